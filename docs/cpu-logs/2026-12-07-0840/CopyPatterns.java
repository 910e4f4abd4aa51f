import java.lang.foreign.*;
import jdk.incubator.vector.*;
import java.nio.ByteOrder;
public class CopyPatterns {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
  public static void main(String[] a) throws Exception {
    long bytes = 256L << 20; int threads = 2;
    Arena ar = Arena.ofShared();
    MemorySegment src = ar.allocate(bytes, 64), dst = ar.allocate(bytes, 64);
    MemorySegment[] scratch = {ar.allocate(1<<16, 64), ar.allocate(1<<16, 64)};
    src.fill((byte)1); dst.fill((byte)0);
    long share = bytes / threads;
    String[] modes = {"segcopy", "vecloop", "vec+chunkcopy64k", "vec+chunkcopy16k", "readonly", "inplace"};
    for (int rep = 0; rep < 3; rep++) for (String m : modes) {
      double best = 0;
      for (int r = 0; r < 5; r++) {
        Thread[] ts = new Thread[threads];
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) { final int tt = t; ts[t] = new Thread(() -> run(m, src, dst, scratch[tt], tt * share, share)); ts[t].start(); }
        for (Thread t : ts) t.join();
        double s = (System.nanoTime() - t0) / 1e9;
        double traffic = m.equals("readonly") ? bytes : 2.0 * bytes;
        best = Math.max(best, traffic / s / 1e9);
      }
      System.out.printf("%-18s %6.1f GB/s%n", m, best);
    }
  }
  static float sink;
  static void run(String m, MemorySegment src, MemorySegment dst, MemorySegment scr, long off, long n) {
    ByteOrder o = ByteOrder.nativeOrder();
    switch (m) {
      case "segcopy" -> MemorySegment.copy(src, off, dst, off, n);
      case "vecloop" -> { for (long i = 0; i < n; i += 64) FloatVector.fromMemorySegment(S, src, off + i, o).mul(1.5f).intoMemorySegment(dst, off + i, o); }
      case "inplace" -> { for (long i = 0; i < n; i += 64) FloatVector.fromMemorySegment(S, dst, off + i, o).mul(1.5f).intoMemorySegment(dst, off + i, o); }
      case "readonly" -> { FloatVector acc = FloatVector.zero(S); for (long i = 0; i < n; i += 64) acc = acc.add(FloatVector.fromMemorySegment(S, src, off + i, o)); sink += acc.reduceLanes(VectorOperators.ADD); }
      default -> { long c = m.contains("64k") ? 65536 : 16384;
        for (long b = 0; b < n; b += c) { for (long i = 0; i < c; i += 64) FloatVector.fromMemorySegment(S, src, off + b + i, o).mul(1.5f).intoMemorySegment(scr, i, o);
          MemorySegment.copy(scr, 0, dst, off + b, c); } }
    }
  }
}
