package io.jdiffusion.cli;

import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** Turns an exception into the one line a user sees. */
final class CliErrors {
    private CliErrors() {
    }

    /**
     * One line: the lines of a multi-line message (a list of bad tensors, say) are joined with "; ", or with
     * a space after a line that ends in a colon (which introduces the next).
     */
    static String describe(Throwable ex) {
        StringBuilder sb = new StringBuilder();
        for (String line : firstCause(ex).lines().map(String::strip).filter(l -> !l.isEmpty()).toList()) {
            if (!sb.isEmpty()) {
                sb.append(sb.charAt(sb.length() - 1) == ':' ? " " : "; ");
            }
            sb.append(line);
        }
        return sb.toString();
    }

    private static String firstCause(Throwable ex) {
        Throwable t = ex;
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            t = u.getCause();
        }
        if (t instanceof NoSuchFileException e) {
            return "no such file or folder: " + e.getFile() + (e.getReason() != null ? " (" + e.getReason() + ")" : "");
        }
        if (t instanceof AccessDeniedException e) {
            return "permission denied: " + e.getFile() + (e.getReason() != null ? " (" + e.getReason() + ")" : "");
        }
        if (t instanceof FileSystemException e) {
            return e.getMessage();
        }
        if (t instanceof OutOfMemoryError) {
            return "out of memory: " + t.getMessage() + " (try a smaller size, or raise -Xmx with JDIFFUSION_JAVA_OPTS)";
        }
        String message = t.getMessage();
        return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
    }
}
