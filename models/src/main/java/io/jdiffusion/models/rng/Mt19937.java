package io.jdiffusion.models.rng;

/**
 * The 32-bit Mersenne Twister MT19937 as PyTorch's {@code at::mt19937} runs it: the reference
 * algorithm with Knuth's initialisation from a 32-bit seed. PyTorch seeds it with the low 32 bits of
 * the 64-bit {@code manual_seed} value, which is what {@code (int) seed} keeps here.
 */
final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] state = new int[N];
    private int next;

    Mt19937(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            state[j] = 1812433253 * (state[j - 1] ^ (state[j - 1] >>> 30)) + j;
        }
        next = N;
    }

    /** The next 32 random bits (an unsigned value in the int's bit pattern). */
    int nextInt() {
        if (next >= N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (state[i] & UPPER_MASK) | (state[(i + 1) % N] & LOWER_MASK);
            int v = y >>> 1;
            if ((y & 1) != 0) {
                v ^= MATRIX_A;
            }
            state[i] = state[(i + M) % N] ^ v;
        }
        next = 0;
    }
}
