package io.jdiffusion.models.api;

import com.sun.source.doctree.DocCommentTree;
import com.sun.source.doctree.DocTree;
import com.sun.source.doctree.ParamTree;
import com.sun.source.doctree.ReturnTree;
import com.sun.source.doctree.ThrowsTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ModifiersTree;
import com.sun.source.tree.PrimitiveTypeTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;

import javax.lang.model.element.Modifier;
import javax.lang.model.type.TypeKind;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What doclint's "missing" group checks, for chosen source files only: every public member of a public type
 * (interface members count as public; nested public types are walked too) has a doc comment with a main
 * description, an {@code @param} for each parameter (type parameters aside) and each record component, an
 * {@code @return} (or an inline {@code {@return}}) for a non-void method, and an {@code @throws} for each
 * exception in its {@code throws} clause. It only parses the files (no class path needed), with the JDK's
 * doc-tree API.
 */
final class JavadocCheck {
    private JavadocCheck() {
    }

    /** The problems found in {@code sources}, one line each as {@code File.java:LINE member: problem}. */
    static List<String> problems(List<Path> sources) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        try (StandardJavaFileManager files = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            return problems(javac, files, files.getJavaFileObjectsFromPaths(sources));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** As {@link #problems(List)} for in-memory sources (for the check's own test). */
    static List<String> problems(Iterable<? extends JavaFileObject> sources) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        try (StandardJavaFileManager files = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            return problems(javac, files, sources);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> problems(JavaCompiler javac, StandardJavaFileManager files, Iterable<? extends JavaFileObject> sources)
            throws IOException {
        JavacTask task = (JavacTask) javac.getTask(null, files, null, List.of("-proc:none"), null, sources);
        DocTrees docs = DocTrees.instance(task);
        List<String> problems = new ArrayList<>();
        for (CompilationUnitTree unit : task.parse()) {
            new Scanner(unit, docs, problems).scan(unit, null);
        }
        return problems;
    }

    private static final class Scanner extends TreePathScanner<Void, Void> {
        private final CompilationUnitTree unit;
        private final DocTrees docs;
        private final List<String> problems;

        Scanner(CompilationUnitTree unit, DocTrees docs, List<String> problems) {
            this.unit = unit;
            this.docs = docs;
            this.problems = problems;
        }

        @Override
        public Void visitClass(ClassTree type, Void unused) {
            if (!isApi(getCurrentPath())) {
                return null; // nothing inside a non-public type is API
            }
            DocCommentTree doc = check(type.getSimpleName().toString(), getCurrentPath());
            if (doc != null && type.getKind() == Tree.Kind.RECORD) {
                Set<String> documented = paramNames(doc);
                for (Tree member : type.getMembers()) {
                    if (member instanceof VariableTree component && !component.getModifiers().getFlags().contains(Modifier.STATIC)
                            && !documented.contains(component.getName().toString())) {
                        report(getCurrentPath(), type.getSimpleName() + ": no @param for record component " + component.getName());
                    }
                }
            }
            return super.visitClass(type, unused);
        }

        @Override
        public Void visitMethod(MethodTree method, Void unused) {
            TreePath path = getCurrentPath();
            if (!isApi(path)) {
                return null;
            }
            String name = method.getName().contentEquals("<init>") ? "constructor" : method.getName().toString();
            DocCommentTree doc = check(name + "()", path);
            if (doc == null) {
                return null;
            }
            Set<String> params = paramNames(doc);
            // a compact constructor's parameters are the record's components, documented on the record
            if (!isCompactConstructor(method, path)) {
                for (VariableTree p : method.getParameters()) {
                    if (!params.contains(p.getName().toString())) {
                        report(path, name + "(): no @param for " + p.getName());
                    }
                }
            }
            Tree returns = method.getReturnType();
            boolean isVoid = returns == null
                    || returns instanceof PrimitiveTypeTree prim && prim.getPrimitiveTypeKind() == TypeKind.VOID;
            if (!isVoid && !hasReturn(doc)) {
                report(path, name + "(): no @return");
            }
            Set<String> thrown = doc.getBlockTags().stream().filter(t -> t instanceof ThrowsTree)
                    .map(t -> simpleName(((ThrowsTree) t).getExceptionName().getSignature())).collect(Collectors.toSet());
            for (ExpressionTree t : method.getThrows()) {
                if (!thrown.contains(simpleName(t.toString()))) {
                    report(path, name + "(): no @throws for " + t);
                }
            }
            return null;
        }

        @Override
        public Void visitVariable(VariableTree field, Void unused) {
            TreePath path = getCurrentPath();
            Tree parent = path.getParentPath().getLeaf();
            boolean member = parent instanceof ClassTree;
            if (member && isApi(path) && !(isRecord(path.getParentPath())
                    && !field.getModifiers().getFlags().contains(Modifier.STATIC))) {
                check(field.getName().toString(), path);
            }
            return null; // a field's initializer holds no members
        }

        /** A record's constructor written without a parameter list (the parser gives it the components). */
        private boolean isCompactConstructor(MethodTree method, TreePath path) {
            if (!isRecord(path.getParentPath()) || !method.getName().contentEquals("<init>") || method.getBody() == null) {
                return false;
            }
            long start = docs.getSourcePositions().getStartPosition(unit, method);
            long body = docs.getSourcePositions().getStartPosition(unit, method.getBody());
            try {
                return unit.getSourceFile().getCharContent(true).subSequence((int) start, (int) body).toString().indexOf('(') < 0;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The member's doc comment, or null after reporting that it has none (or one without a description). */
        private DocCommentTree check(String what, TreePath path) {
            DocCommentTree doc = docs.getDocCommentTree(path);
            if (doc == null) {
                report(path, what + ": no doc comment");
                return null;
            }
            boolean described = !doc.getFullBody().isEmpty()
                    || doc.getBlockTags().stream().anyMatch(t -> t.getKind() == DocTree.Kind.RETURN);
            if (!described) {
                report(path, what + ": doc comment without a description");
            }
            return doc;
        }

        private void report(TreePath path, String problem) {
            long line = unit.getLineMap().getLineNumber(docs.getSourcePositions().getStartPosition(unit, path.getLeaf()));
            String file = unit.getSourceFile().getName();
            problems.add(file.substring(file.lastIndexOf('/') + 1) + ":" + line + " " + problem);
        }
    }

    /** Whether {@code path}'s member and every type around it is visible to users of the package. */
    private static boolean isApi(TreePath path) {
        for (TreePath p = path; p != null && !(p.getLeaf() instanceof CompilationUnitTree); p = p.getParentPath()) {
            Tree leaf = p.getLeaf();
            ModifiersTree modifiers = leaf instanceof ClassTree c ? c.getModifiers()
                    : leaf instanceof MethodTree m ? m.getModifiers()
                    : leaf instanceof VariableTree v ? v.getModifiers() : null;
            if (modifiers == null) {
                continue;
            }
            Set<Modifier> flags = modifiers.getFlags();
            Tree owner = p.getParentPath().getLeaf();
            boolean inInterface = owner instanceof ClassTree c && (c.getKind() == Tree.Kind.INTERFACE
                    || c.getKind() == Tree.Kind.ANNOTATION_TYPE);
            // (the parser marks enum constants public)
            boolean visible = flags.contains(Modifier.PUBLIC) || inInterface && !flags.contains(Modifier.PRIVATE);
            if (!visible) {
                return false;
            }
        }
        return true;
    }

    private static boolean isRecord(TreePath path) {
        return path.getLeaf().getKind() == Tree.Kind.RECORD;
    }

    private static Set<String> paramNames(DocCommentTree doc) {
        return doc.getBlockTags().stream().filter(t -> t instanceof ParamTree p && !p.isTypeParameter())
                .map(t -> ((ParamTree) t).getName().getName().toString()).collect(Collectors.toSet());
    }

    private static boolean hasReturn(DocCommentTree doc) {
        return doc.getBlockTags().stream().anyMatch(t -> t instanceof ReturnTree)
                || doc.getFullBody().stream().anyMatch(t -> t instanceof ReturnTree);
    }

    private static String simpleName(String name) {
        return name.substring(name.lastIndexOf('.') + 1);
    }
}
