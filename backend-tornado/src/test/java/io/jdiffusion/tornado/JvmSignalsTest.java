package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The JVM's signal handlers stay installed once TornadoVM's driver has compiled and run kernels. HotSpot turns
 * faults of its own making into exceptions through its SIGSEGV, SIGBUS, SIGFPE and SIGILL handlers (a null
 * dereference where compiled code has no explicit test becomes a NullPointerException). PoCL links LLVM, whose
 * crash handlers replace the JVM's when it compiles ({@code -Xcheck:jni}: "Warning: SIGSEGV handler modified!",
 * the handler in libLLVM), and then such a fault in compiled Java code can kill the process with a bare
 * "Segmentation fault": the backend's whole PoCL suite died that way in a CPU worker thread (kernel log: a read at
 * address 0xc, an array's length through null, in JIT code) in two runs of two. The build and the launcher preload
 * the JDK's {@code libjsig}, which keeps the JVM's handlers installed and hands other signals on to the handlers
 * that libraries set (HotSpot's documented remedy, "Consider using jsig library").
 *
 * <p>The handler is read from the kernel with the raw {@code rt_sigaction} system call: through libc, libjsig
 * would answer with the library's handler, which it keeps for chaining.
 */
class JvmSignalsTest extends SingleKernelTest {
    private static final int SIGSEGV = 11;

    @Test
    void theJvmStillHandlesSigsegvAfterKernelsWereCompiledAndRun() throws Throwable {
        long rtSigaction = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 13;
            case "aarch64" -> 134;
            default -> -1;
        };
        // JUnit's assumptions, not AssertJ's: those need ByteBuddy, which the GPU machines' class path leaves out
        assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "Linux signal handlers");
        assumeTrue(rtSigaction > 0, "rt_sigaction's number on " + System.getProperty("os.arch"));
        runAKernel();
        assertThat(handlerLibrary(SIGSEGV, rtSigaction)).as("the library whose function handles SIGSEGV").contains("libjvm");
    }

    /** A fill over 1001 elements, through the driver's compiler on first use. */
    private void runAKernel() {
        int n = 1001;
        FloatArray out = new FloatArray(n);
        out.init(0f);
        executeOverFillGrid("signals", n, out, (g, nan) -> g.task("t", PointwiseKernels::fill, new KernelContext(), nan, 0, out, n));
        assertThat(out.get(n - 1)).as("the kernel ran").isNaN();
    }

    /** The file name of the shared object that holds the kernel's current handler of {@code signal}. */
    private static String handlerLibrary(int signal, long rtSigaction) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
        MethodHandle dladdr = linker.downcallHandle(linker.defaultLookup().find("dladdr").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            // the kernel's struct sigaction: the handler first, then flags, restorer and an 8-byte mask
            MemorySegment action = arena.allocate(64, 8);
            long rc = (long) syscall.invokeExact(rtSigaction, (long) signal, MemorySegment.NULL, action, 8L);
            assertThat(rc).as("rt_sigaction's result").isZero();
            MemorySegment handler = action.get(ValueLayout.ADDRESS, 0);
            MemorySegment info = arena.allocate(4 * ValueLayout.ADDRESS.byteSize(), 8); // Dl_info: the file name first
            int found = (int) dladdr.invokeExact(handler, info);
            if (found == 0) {
                return "no shared object (handler at 0x" + Long.toHexString(handler.address()) + ")";
            }
            return info.get(ValueLayout.ADDRESS, 0).reinterpret(4096).getString(0);
        }
    }
}
