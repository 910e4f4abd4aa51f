import java.lang.foreign.*;
import jdk.incubator.vector.*;
import java.nio.ByteOrder;
public class GroupNormPasses {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512; static final int L = 16;
  static final ByteOrder O = ByteOrder.nativeOrder();
  static final float ROUNDER = 1.5f * (1 << 23); static final int RB = Float.floatToRawIntBits(ROUNDER);
  static final float C0=1f, C1=0.6931472f, C2=0.2402265f, C3=0.05550411f, C4=0.009618129f, C5=0.001333355f;
  public static void main(String[] a) throws Exception {
    long elems = 512L*512*128; int groups = 32; long gE = elems/groups;
    Arena ar = Arena.ofShared();
    MemorySegment x = ar.allocate(elems*4, 64);
    for (long i = 0; i < elems; i++) x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i%97)*0.01f);
    for (int rep = 0; rep < 4; rep++) for (String m : new String[]{"sequential","fused"}) {
      double best = 1e9;
      for (int r = 0; r < 6; r++) {
        Thread[] ts = new Thread[2]; long t0 = System.nanoTime();
        for (int t = 0; t < 2; t++) { final int tt = t; ts[t] = new Thread(() -> { long from = tt*16, to = from+16;
            double[] st = stats(x, from*gE, gE);
            for (long g = from; g < to; g++) {
              if (m.equals("sequential") || g + 1 == to) { norm(x, g*gE, gE, st); if (g + 1 < to) st = stats(x, (g+1)*gE, gE); }
              else st = fused(x, g*gE, gE, st, (g+1)*gE);
            } }); ts[t].start(); }
        for (Thread t : ts) t.join();
        best = Math.min(best, (System.nanoTime() - t0) / 1e6);
      }
      System.out.printf("%-10s %6.2f ms  %5.1f GB/s (8 B/elem)%n", m, best, 8.0*elems/best/1e6);
    }
  }
  static double[] stats(MemorySegment x, long off, long n) {
    FloatVector s = FloatVector.zero(S), q = s, s2 = s, q2 = s;
    for (long i = 0; i < n*4; i += 128) { var v = FloatVector.fromMemorySegment(S, x, off*4+i, O); var w = FloatVector.fromMemorySegment(S, x, off*4+i+64, O); s = s.add(v); q = v.fma(v, q); s2 = s2.add(w); q2 = w.fma(w, q2);}
    double mean = (s.reduceLanes(VectorOperators.ADD)+s2.reduceLanes(VectorOperators.ADD))/(double)n;
    double var = (q.reduceLanes(VectorOperators.ADD)+q2.reduceLanes(VectorOperators.ADD))/(double)n - mean*mean;
    return new double[]{mean, 1/Math.sqrt(var+1e-5)};
  }
  static FloatVector silu(FloatVector xv, FloatVector sc, FloatVector sh, FloatVector za, FloatVector zb) {
    FloatVector v = xv.fma(sc, sh), z = xv.fma(za, zb);
    FloatVector t = z.add(ROUNDER); FloatVector f = z.sub(t.sub(ROUNDER)); FloatVector f2 = f.mul(f);
    FloatVector p = f.fma(C5, C4).fma(f2, f.fma(C3, C2)).fma(f2, f.fma(C1, C0));
    IntVector bits = ((IntVector) t.reinterpretAsInts()).max(RB - 127).min(RB + 128);
    FloatVector pow = (FloatVector) bits.lanewise(VectorOperators.LSHL, 23).add(127 << 23).reinterpretAsFloats();
    return v.div(p.fma(pow, FloatVector.broadcast(S, 1f)));
  }
  static void norm(MemorySegment x, long off, long n, double[] st) {
    float scale = (float) st[1], shift = (float) (-st[0]*st[1]);
    var sc = FloatVector.broadcast(S, scale); var sh = FloatVector.broadcast(S, shift);
    var za = FloatVector.broadcast(S, (float)(-scale*1.4426950408889634)); var zb = FloatVector.broadcast(S, (float)(-shift*1.4426950408889634));
    MemorySegment xs = x.asSlice(off*4, n*4);
    for (int o = 0; o < n*4; o += 64) silu(FloatVector.fromMemorySegment(S, xs, o, O), sc, sh, za, zb).intoMemorySegment(xs, o, O);
  }
  static double[] fused(MemorySegment x, long off, long n, double[] st, long nextOff) {
    float scale = (float) st[1], shift = (float) (-st[0]*st[1]);
    var sc = FloatVector.broadcast(S, scale); var sh = FloatVector.broadcast(S, shift);
    var za = FloatVector.broadcast(S, (float)(-scale*1.4426950408889634)); var zb = FloatVector.broadcast(S, (float)(-shift*1.4426950408889634));
    MemorySegment xs = x.asSlice(off*4, n*4), ns = x.asSlice(nextOff*4, n*4);
    FloatVector s = FloatVector.zero(S), q = s, s2 = s, q2 = s;
    for (int o = 0; o < n*4; o += 128) {
      var v = FloatVector.fromMemorySegment(S, ns, o, O); var w = FloatVector.fromMemorySegment(S, ns, o+64, O);
      s = s.add(v); q = v.fma(v, q); s2 = s2.add(w); q2 = w.fma(w, q2);
      silu(FloatVector.fromMemorySegment(S, xs, o, O), sc, sh, za, zb).intoMemorySegment(xs, o, O);
      silu(FloatVector.fromMemorySegment(S, xs, o+64, O), sc, sh, za, zb).intoMemorySegment(xs, o+64, O);
    }
    double mean = (s.reduceLanes(VectorOperators.ADD)+s2.reduceLanes(VectorOperators.ADD))/(double)n;
    double var = (q.reduceLanes(VectorOperators.ADD)+q2.reduceLanes(VectorOperators.ADD))/(double)n - mean*mean;
    return new double[]{mean, 1/Math.sqrt(var+1e-5)};
  }
}
