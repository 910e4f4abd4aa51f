package io.jdiffusion.backend;

/** {@link WinogradF43}: F(4, 3) from the points 0, 1, -1, 2, -2 and infinity. */
class WinogradF43Test extends ToomCookWinogradTest {
    WinogradF43Test() {
        super(new double[] {0, 1, -1, 2, -2}, WinogradF43.TILE_OUT);
    }

    @Override
    double[][] at() {
        return WinogradF43.at();
    }

    @Override
    double[][] g() {
        return WinogradF43.g();
    }

    @Override
    double[][] bt() {
        return WinogradF43.bt();
    }

    @Override
    void transformKernel(float[] g, int offset, double[] u) {
        WinogradF43.transformKernel(g, offset, u);
    }
}
