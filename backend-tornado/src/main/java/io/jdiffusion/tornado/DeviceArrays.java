package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * The host sides of one executable's device arrays, of two kinds, which TornadoVM copies to the device at most once
 * and never reads back:
 * <ul>
 *   <li><b>Upload-once arrays</b> (the weights): the host writes them, the first execution copies them
 *   ({@code FIRST_EXECUTION}), and {@link #release()} hands their pages back afterwards.</li>
 *   <li><b>Device-only arrays</b> (the activation arena, library staging and workspaces, kernels' scratch): the host
 *   never writes or reads them; TornadoVM only allocates their device buffers ({@code UNDER_DEMAND}, see
 *   {@link #deviceOnly}), so no page of their host side is ever touched and they cost no resident memory (a whole
 *   1024x1024 VAE decode's F16 arena is 1.25 GiB, a cuDNN workspace up to 1.25 GiB more). Those a kernel might read
 *   before writing are {@link #poisoned}: a task fills them with NaN at the start of every run
 *   ({@link TaskGraphChain}).</li>
 * </ul>
 * Both live in a memory-mapped scratch file, unlinked as soon as it is made, instead of in TornadoVM's anonymous
 * memory (which it zeroes, touching every page): released pages of the weights leave the process's resident set
 * for the kernel's file cache, which writes them back to the unlinked file and reclaims them under memory pressure
 * (where {@code java.io.tmpdir} is a tmpfs they stay in memory), and should TornadoVM ever copy an array again it
 * reads the same data back from the file; the device-only regions stay holes. SD 1.5's weights are 2 GiB in F16,
 * 4 GiB in F32.
 *
 * <p>The mappings belong to an automatic arena: they are unmapped once no TornadoVM array refers to them, never
 * while an execution plan might still copy from them.
 *
 * <p>Where the device's backend page-locks every host array ({@code cuMemHostRegister}: TornadoVM's PTX backend
 * always, its CUDA backend unless {@code tornado.cuda.host.pinning=false}, which the backend sets by default), the
 * driver refuses file-backed pages and TornadoVM logs an error for each, so there the arrays are TornadoVM's own
 * ({@link #DeviceArrays(boolean, boolean) mapped} false, where {@link TornadoDevices#pinsHostArrays} says so): they
 * are resident, and {@link #release()} hands nothing back. With one exception, the tensor cores' F16 weights
 * ({@link #readOnlyHalves}), 1.7 GB of SD 1.5's 2 GB in F16: such a plan uploads with TornadoVM's staged transfers
 * ({@code withStagedTransfers}), which copy an array of at least {@code tornado.staged.min.size} bytes through a
 * ring of pinned slots and need no lock on the array itself, so the weights live in the mapped file there too and go
 * back after their upload. On an H100 the PTX backend's host peak for a whole F16 pipeline went from 4.23 to 3.33 GiB
 * (docs/PERFORMANCE.md). The price is one line of TornadoVM's PTX library per executable of chained task graphs,
 * {@code [TornadoVM-PTX-JNI] ERROR : cuMemHostRegister -> Returned: 1}: TornadoVM skips the lock only for an array
 * it sees as read-only, and a buffer a graph hands on ({@code persistOnDevice}) counts as read and written, so it
 * still tries, and the driver refuses the file's pages. The upload does not need the lock and is unaffected.
 */
final class DeviceArrays implements AutoCloseable {
    /** Each array starts on a page of its own, so that releasing one never touches another's data. */
    private static final long PAGE = 4096;
    static final String STAGED_MIN_SIZE = "tornado.staged.min.size";

    private final boolean mapped;
    /** Whether arrays of at least {@link #stagedBytes} go up through TornadoVM's staging ring, which needs no lock on them. */
    private final boolean stagedUploads;
    private final Arena mappings = Arena.ofAuto();
    private final List<MemorySegment> segments = new ArrayList<>();
    /** The device-only arrays, by identity: TornadoVM allocates their device buffers and copies nothing. */
    private final Set<Object> deviceOnly = Collections.newSetFromMap(new IdentityHashMap<>());
    /** The device-only arrays filled with NaN at the start of every run, in the order they were made. */
    private final List<TornadoNativeArray> poisoned = new ArrayList<>();
    /** Arrays whose device buffers outlive the executable ({@link #keepPastClose}), until {@link #close()}. */
    private final List<TornadoNativeArray> unfreed = new ArrayList<>();
    /**
     * The arrays of closed executables that TornadoVM never freed, on a backend that page-locks host arrays: held for
     * the JVM's life (see {@link #keepPastClose}).
     */
    private static final List<TornadoNativeArray> HELD_FOR_THE_DRIVER = new ArrayList<>();
    private FileChannel scratch;
    private String path;
    private long fileBytes;
    private boolean released;

    /**
     * @param mapped         whether the arrays live in the mapped scratch file (else TornadoVM allocates them)
     * @param stagedUploads whether the plan uploads large arrays through TornadoVM's staging ring, which needs no
     *                      lock on them, so that {@link #readOnlyHalves} maps them even where {@code mapped} is false
     */
    DeviceArrays(boolean mapped, boolean stagedUploads) {
        this.mapped = mapped;
        this.stagedUploads = stagedUploads;
    }

    /** Arrays in the mapped scratch file. */
    DeviceArrays() {
        this(true, false);
    }

    /** Whether the arrays live in the mapped scratch file, so that {@link #release()} hands their pages back. */
    boolean mapped() {
        return mapped;
    }

    /** Whether the plan must upload with TornadoVM's staged transfers, which {@link #readOnlyHalves} counts on. */
    boolean stagedUploads() {
        return stagedUploads;
    }

    HalfFloatArray halves(int elements) {
        return halves(elements, mapped);
    }

    private HalfFloatArray halves(int elements, boolean inFile) {
        return inFile ? HalfFloatArray.fromSegmentShallow(map(elements, Short.BYTES)) : new HalfFloatArray(checked(elements));
    }

    /**
     * An F16 array that the host writes once and the device only reads (the tensor cores' weights): in the mapped
     * file where the other arrays are, and also where they are not, if the plan uploads it through TornadoVM's
     * staging ring ({@link #stagedUploads()} and at least {@code tornado.staged.min.size} bytes), which needs no
     * lock on it; {@link #release()} then hands its pages back after the upload.
     */
    HalfFloatArray readOnlyHalves(int elements) {
        long bytes = TornadoNativeArray.ARRAY_HEADER + (long) checked(elements) * Short.BYTES;
        return halves(elements, mapped || (stagedUploads && bytes >= stagedBytes()));
    }

    /**
     * The smallest array TornadoVM uploads through its staging ring: {@code tornado.staged.min.size}, default 16 MiB
     * as in TornadoVM 5.2.0. Read from the property rather than from TornadoVM's {@code TornadoOptions}, whose
     * initialisation fixes every TornadoVM option: a test that made arrays before the backend had set its defaults
     * ran TornadoVM without them.
     */
    static long stagedBytes() {
        return Long.getLong(STAGED_MIN_SIZE, 16L << 20);
    }

    FloatArray floats(int elements) {
        return mapped ? FloatArray.fromSegmentShallow(map(elements, Float.BYTES)) : new FloatArray(checked(elements));
    }

    IntArray ints(int elements) {
        return mapped ? IntArray.fromSegmentShallow(map(elements, Integer.BYTES)) : new IntArray(checked(elements));
    }

    /**
     * A device-only F16 array: TornadoVM allocates its device buffer and never copies it either way; its host side
     * is never touched. {@code poisoned}: filled with NaN at the start of every run, for an array a kernel could
     * read before any kernel of the run wrote it (a planning error would then show as NaN, not as stale data).
     */
    HalfFloatArray deviceOnlyHalves(int elements, boolean poisoned) {
        return deviceOnly(halves(elements), poisoned);
    }

    /** A device-only F32 array (see {@link #deviceOnlyHalves}). */
    FloatArray deviceOnlyFloats(int elements, boolean poisoned) {
        return deviceOnly(floats(elements), poisoned);
    }

    private synchronized <T extends TornadoNativeArray> T deviceOnly(T array, boolean poison) {
        deviceOnly.add(array);
        if (poison) {
            poisoned.add(array);
        }
        return array;
    }

    /**
     * Whether {@code array} is device-only: a task graph declares it {@code UNDER_DEMAND}, which allocates its
     * device buffer without a copy, instead of {@code FIRST_EXECUTION}.
     */
    synchronized boolean deviceOnly(Object array) {
        return deviceOnly.contains(array);
    }

    /** The device-only arrays to fill with NaN at the start of every run. */
    synchronized List<TornadoNativeArray> poisoned() {
        return List.copyOf(poisoned);
    }

    private static int checked(int elements) {
        if (elements < 1) {
            throw new IllegalArgumentException("an array needs at least one element, got " + elements);
        }
        return elements;
    }

    /** A new region of the scratch file with room for TornadoVM's array header and {@code elements} elements. */
    private synchronized MemorySegment map(int elements, int elementBytes) {
        checked(elements);
        if (released) {
            throw new IllegalStateException("the weights were released after their upload; no new array can be made");
        }
        long bytes = TornadoNativeArray.ARRAY_HEADER + (long) elements * elementBytes;
        try {
            if (scratch == null) {
                Path file = Files.createTempFile("jdiffusion-device-weights-", ".bin");
                scratch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
                path = file.toAbsolutePath().toString();
                // Unlinked at once: the mappings keep the space alive, and nothing is left behind by a crash.
                Files.delete(file);
            }
            MemorySegment segment = scratch.map(FileChannel.MapMode.READ_WRITE, fileBytes, bytes, mappings);
            fileBytes += (bytes + PAGE - 1) / PAGE * PAGE;
            segments.add(segment);
            return segment;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + bytes + " bytes of device weights' host copy in "
                    + System.getProperty("java.io.tmpdir") + " (is it full?): " + e.getMessage(), e);
        }
    }

    /** Bytes of the scratch file: every mapped array made so far, each rounded up to whole pages (device-only ones are holes). */
    synchronized long bytes() {
        return fileBytes;
    }

    /** Whether {@link #release()} ran: the mapped arrays' pages handed back (unmapped arrays keep theirs). */
    synchronized boolean released() {
        return released;
    }

    /** Arrays made so far. */
    synchronized int arrays() {
        return segments.size();
    }

    /**
     * The scratch file's path as the process's memory map names it (unlinked: followed by " (deleted)"), or null
     * before the first array; for tests and reports of where resident memory lies.
     */
    synchronized String path() {
        return path;
    }

    /**
     * Hands the arrays' pages back to the file (unload: the mappings stay valid, a later read faults the data back
     * in). Called once the first execution of the plan has copied every array to the device.
     */
    synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        for (MemorySegment s : segments) {
            s.unload();
        }
        closeFile();
    }

    /**
     * Records an array whose device buffer TornadoVM will not free when the executable closes (a task argument array of
     * a chain's later graph). Where the backend page-locks host arrays ({@code cuMemHostRegister}, not {@link #mapped}),
     * {@link #close()} keeps it reachable for the JVM's life: its host memory stays registered with the driver, and
     * freed by the garbage collector it came back for new arrays whose copies the driver then refused
     * ({@code cuMemcpyHtoDAsync}: CUDA_ERROR_INVALID_VALUE); a tiny SDXL pipeline on TornadoVM's PTX backend decoded
     * a wrong image after two other pipelines had closed their executables, in a fresh JVM three times out of three
     * (docs/PERFORMANCE.md). The price is a few hundred bytes of host and device memory per such array, a few hundred
     * KiB for a closed SD 1.5 UNet.
     */
    synchronized void keepPastClose(TornadoNativeArray array) {
        unfreed.add(array);
    }

    /** Arrays recorded by {@link #keepPastClose} so far. */
    synchronized int keptPastClose() {
        return unfreed.size();
    }

    /** Arrays of closed executables held for the driver in this JVM. */
    static int heldForTheDriver() {
        synchronized (HELD_FOR_THE_DRIVER) {
            return HELD_FOR_THE_DRIVER.size();
        }
    }

    @Override
    public synchronized void close() {
        closeFile();
        if (!mapped) {
            synchronized (HELD_FOR_THE_DRIVER) {
                HELD_FOR_THE_DRIVER.addAll(unfreed);
            }
        }
        unfreed.clear();
    }

    private void closeFile() {
        if (scratch != null) {
            try {
                // The mappings outlive the channel.
                scratch.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close the device weights' scratch file", e);
            } finally {
                scratch = null;
            }
        }
    }
}
