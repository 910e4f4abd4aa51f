package io.jdiffusion.core.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Says why a path that should name a readable file does not: missing, a folder, a symbolic link loop or a
 * dangling link, a FIFO, socket or device. Readers check this first, so a folder or a FIFO in place of a
 * weights file is reported as what it is instead of as a missing file (or a read that blocks forever).
 */
public final class RegularFiles {
    private RegularFiles() {
    }

    /** True when something, even a dangling or looping symbolic link, is at {@code path}. */
    public static boolean present(Path path) {
        return Files.exists(path, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Null when {@code path} is a regular file (symbolic links followed); otherwise what it is instead, as a
     * phrase that follows the path in a message ("is a directory, not a file").
     */
    public static String problem(Path path) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return Files.isSymbolicLink(path) ? "is a symbolic link to a missing file" : "does not exist";
        } catch (FileSystemException e) {
            String reason = e.getReason() == null ? "" : e.getReason();
            if (reason.contains("symbolic links")) {
                return "is a symbolic link loop";
            }
            return "cannot be read: " + (reason.isEmpty() ? e.getClass().getSimpleName() : reason);
        } catch (IOException e) {
            return "cannot be read: " + e.getMessage();
        }
        if (attributes.isRegularFile()) {
            return null;
        }
        if (attributes.isDirectory()) {
            return "is a directory, not a file";
        }
        return "is not a regular file (a FIFO, socket or device)";
    }
}
