package io.jdiffusion.backend;

/** {@link WinogradF23}: F(2, 3) from the points 0, 1, -1 and infinity. */
class WinogradF23Test extends ToomCookWinogradTest {
    WinogradF23Test() {
        super(new double[] {0, 1, -1}, WinogradF23.TILE_OUT);
    }

    @Override
    double[][] at() {
        return WinogradF23.at();
    }

    @Override
    double[][] g() {
        return WinogradF23.g();
    }

    @Override
    double[][] bt() {
        return WinogradF23.bt();
    }

    @Override
    void transformKernel(float[] g, int offset, double[] u) {
        WinogradF23.transformKernel(g, offset, u);
    }
}
