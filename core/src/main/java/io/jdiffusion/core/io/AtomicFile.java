package io.jdiffusion.core.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Writes a file whole or not at all: the content goes to a temporary file in the target's folder, is
 * forced to disk, and is then renamed over the target. A failure leaves the target as it was.
 */
public final class AtomicFile {
    /** Writes the content of one file to the stream it is given. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFile() {
    }

    /** rw-r--r--: what a plain file write gives under the usual umask 022. */
    private static final Set<PosixFilePermission> NEW_FILE = PosixFilePermissions.fromString("rw-r--r--");

    /**
     * Fails with a clear exception unless {@code target} can be written: its folder exists and is writable,
     * and it is not itself a folder, a device, a FIFO or a socket (the rename would replace the node, and as
     * root {@code /dev/null} with it). A symbolic link is replaced by the new file; the file it pointed to is
     * left as it was. Callers may check early, before expensive work that ends in a write.
     */
    public static void checkWritable(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new NoSuchFileException(String.valueOf(dir), null, "output folder does not exist");
        }
        if (!Files.isWritable(dir)) {
            throw new AccessDeniedException(dir.toString(), null, "output folder is not writable");
        }
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("output " + target + " is a folder");
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(target)
                && !Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("output " + target + " is not a regular file (a device, FIFO or socket); refusing to replace it");
        }
    }

    public static void write(Path target, Content content) throws IOException {
        checkWritable(target);
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        InFlight.add(tmp);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream out = Channels.newOutputStream(ch);
                content.writeTo(out);
                out.flush();
                ch.force(true);
            }
            setPermissions(tmp, target);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
            InFlight.remove(tmp);
        }
    }

    /**
     * Temporary files being written, deleted by a shutdown hook if the JVM exits mid-write (Ctrl-C, SIGTERM),
     * when the {@code finally} above never runs.
     */
    private static final class InFlight {
        private static final Set<Path> FILES = java.util.concurrent.ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Path p : FILES) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // exiting: nothing more can be done
                    }
                }
            }, "jdiffusion-temp-cleanup"));
        }

        static void add(Path p) {
            FILES.add(p);
        }

        static void remove(Path p) {
            FILES.remove(p);
        }
    }

    /**
     * Temporary files are created private (rw-------); the finished file gets the permissions the target
     * already had, or rw-r--r-- for a new file, as if it had been written in place.
     */
    private static void setPermissions(Path tmp, Path target) throws IOException {
        if (!Files.getFileStore(tmp).supportsFileAttributeView(PosixFileAttributeView.class)) {
            return;
        }
        Set<PosixFilePermission> permissions = Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)
                ? Files.getPosixFilePermissions(target) : NEW_FILE;
        Files.setPosixFilePermissions(tmp, permissions);
    }
}
