package io.jdiffusion.models.lora;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsException;
import io.jdiffusion.core.safetensors.SafetensorsFile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * One LoRA safetensors file, mapped onto a model and checked: every pair's rank agrees between its down and up
 * tensors, and their outer dimensions fit the weight they change. Tensors stay memory-mapped until
 * {@link #close()}.
 */
public final class LoraFile implements AutoCloseable {
    private final Path path;
    private final SafetensorsFile file;
    private final List<LoraModule> modules;

    private LoraFile(Path path, SafetensorsFile file, List<LoraModule> modules) {
        this.path = path;
        this.file = file;
        this.modules = modules;
    }

    /** Opens {@code path} and maps it onto {@code targets}; any problem is one {@link LoraException}. */
    public static LoraFile open(Path path, LoraTargets targets) {
        if (!Files.isRegularFile(path)) {
            throw new LoraException("LoRA file not found: " + path);
        }
        SafetensorsFile f;
        try {
            f = SafetensorsFile.open(path);
        } catch (SafetensorsException e) {
            throw new LoraException("cannot read LoRA " + path + ": " + e.getMessage(), e);
        }
        try {
            String source = "LoRA " + path.getFileName();
            List<LoraModule> modules = LoraKeyMapper.map(f.names(), targets, source);
            for (LoraModule m : modules) {
                checkShapes(source, m, f);
            }
            return new LoraFile(path, f, modules);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static void checkShapes(String source, LoraModule m, SafetensorsFile f) {
        Tensor down = f.tensor(m.downKey());
        Tensor up = f.tensor(m.upKey());
        for (Tensor t : List.of(down, up)) {
            if (!t.dtype().isFloatingPoint()) {
                throw new LoraException(source + ": " + (t == down ? m.downKey() : m.upKey()) + " is " + t.dtype()
                        + ", expected F32, F16 or BF16");
            }
        }
        Shape w = m.target().shape();
        Shape d = down.shape();
        Shape u = up.shape();
        if ((d.rank() != 2 && d.rank() != 4) || (u.rank() != 2 && u.rank() != 4)) {
            throw new LoraException(source + ": " + m.name() + " has down " + d + " and up " + u
                    + ", expected matrices or convolution kernels");
        }
        long rank = d.dim(0);
        if (u.dim(1) != rank || (u.rank() == 4 && (u.dim(2) != 1 || u.dim(3) != 1))) {
            throw new LoraException(source + ": rank mismatch in " + m.name() + ": " + m.downKey() + " is " + d
                    + " (rank " + rank + ") but " + m.upKey() + " is " + u);
        }
        long in = w.elementCount() / w.dim(0);
        boolean downFits = d.elementCount() / rank == in
                && (d.rank() == 2 ? w.rank() == 2 || (w.dim(2) == 1 && w.dim(3) == 1)
                : w.rank() == 4 ? d.dim(1) == w.dim(1) && d.dim(2) == w.dim(2) && d.dim(3) == w.dim(3)
                : d.dim(2) == 1 && d.dim(3) == 1);
        if (u.dim(0) != w.dim(0) || !downFits) {
            throw new LoraException(source + ": " + m.name() + " (down " + d + ", up " + u + ") does not fit "
                    + m.target().network() + " weight " + m.target().parameter() + " " + w);
        }
        if (m.alphaKey() != null && f.tensor(m.alphaKey()).elementCount() != 1) {
            throw new LoraException(source + ": " + m.alphaKey() + " is " + f.tensor(m.alphaKey()).shape()
                    + ", expected one number");
        }
    }

    /** The pairs, each checked against its weight. */
    public List<LoraModule> modules() {
        return modules;
    }

    public Tensor tensor(String key) {
        return file.tensor(key);
    }

    /** alpha / rank of a pair (1 where the file has no alpha). */
    public double alphaOverRank(LoraModule m) {
        long rank = file.tensor(m.downKey()).shape().dim(0);
        return m.alphaKey() == null ? 1.0 : file.tensor(m.alphaKey()).getFloat(0) / (double) rank;
    }

    public Path path() {
        return path;
    }

    /** The name A1111 shows for it: the file name without {@code .safetensors}. */
    public String name() {
        return nameOf(path);
    }

    /** The name A1111 shows for a LoRA file: the file name without {@code .safetensors}. */
    public static String nameOf(Path file) {
        String n = file.getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    /** {@link #shortHash(Path)} of this file. */
    public String shortHash() {
        return shortHash(path);
    }

    /**
     * The first 12 hex digits of A1111's LoRA hash for the {@code Lora hashes} infotext: the file's
     * {@code sshs_model_hash} metadata where present, otherwise the "addnet" SHA-256 of everything after the
     * safetensors header.
     */
    public static String shortHash(Path path) {
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            String declared = f.metadata().get("sshs_model_hash");
            if (declared != null && declared.length() >= 12) {
                return declared.substring(0, 12);
            }
        } catch (SafetensorsException e) {
            throw new LoraException("cannot read LoRA " + path + ": " + e.getMessage(), e);
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] lengthBytes = in.readNBytes(8);
            long headerLength = ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            in.skipNBytes(headerLength);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 12);
        } catch (IOException e) {
            throw new LoraException("cannot read LoRA " + path + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        file.close();
    }
}
