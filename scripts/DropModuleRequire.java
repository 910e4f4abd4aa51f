import java.lang.classfile.ClassFile;
import java.lang.classfile.attribute.ModuleAttribute;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Removes one {@code requires} from a compiled module descriptor, in place:
 * {@code java scripts/DropModuleRequire.java module-info.class java.desktop}.
 *
 * <p>gpu-measure.sh's staging uses it on TornadoVM's PTX driver, whose descriptor requires java.desktop although
 * none of its classes loads a class of that module ({@code jdeps} lists none): the device's packed JDK leaves
 * java.desktop out to fit the upload, and with the requirement in place the PTX backend could not be resolved there.
 */
final class DropModuleRequire {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: DropModuleRequire MODULE-INFO.CLASS MODULE-NAME");
        }
        Path file = Path.of(args[0]);
        String dropped = args[1];
        ClassFile classFile = ClassFile.of();
        var model = classFile.parse(Files.readAllBytes(file));
        boolean[] found = {false};
        byte[] rewritten = classFile.transformClass(model, (builder, element) -> {
            if (element instanceof ModuleAttribute module) {
                var kept = module.requires().stream()
                        .filter(r -> !r.requires().name().equalsString(dropped)).toList();
                found[0] = kept.size() < module.requires().size();
                builder.with(ModuleAttribute.of(module.moduleName(), module.moduleFlagsMask(),
                        module.moduleVersion().orElse(null), kept, module.exports(), module.opens(), module.uses(),
                        module.provides()));
            } else {
                builder.with(element);
            }
        });
        if (!found[0]) {
            throw new IllegalStateException(file + " does not require " + dropped);
        }
        Files.write(file, rewritten);
    }
}
