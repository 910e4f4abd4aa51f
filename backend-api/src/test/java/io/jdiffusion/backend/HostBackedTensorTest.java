package io.jdiffusion.backend;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HostBackedTensorTest {
    private static final class Probe extends HostBackedTensor {
        Probe(Tensor host, MemoryMeter meter) {
            super(host, "probe", meter);
        }

        Tensor host() {
            return storage();
        }
    }

    @Test
    void countsItsBytesUntilClosedAndRefusesUseAfterClose() {
        MemoryMeter meter = new MemoryMeter();
        Probe a = new Probe(Tensor.allocate(Shape.of(2, 3), DType.F32), meter);
        Probe b = new Probe(Tensor.allocate(Shape.of(4), DType.F16), meter);
        assertThat(meter.inUse()).isEqualTo(24 + 8);
        assertThat(a.shape()).isEqualTo(Shape.of(2, 3));
        assertThat(b.dtype()).isEqualTo(DType.F16);
        assertThat(a.backendName()).isEqualTo("probe");
        assertThat(a.toString()).isEqualTo("Probe" + Shape.of(2, 3) + " " + DType.F32);

        a.close();
        a.close();
        assertThat(meter.inUse()).isEqualTo(8);
        assertThat(meter.peak()).isEqualTo(32);
        assertThatThrownBy(a::host).isInstanceOf(IllegalStateException.class).hasMessageContaining("used after close()");
        assertThat(b.host().isOpen()).isTrue();
        b.close();
        assertThat(meter.inUse()).isZero();
    }
}
