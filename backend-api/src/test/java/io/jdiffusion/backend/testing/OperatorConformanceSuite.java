package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.DeviceTensor;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every operator of the SPI, run by a backend on fresh random inputs of awkward sizes and compared with
 * an {@link Oracle} (by default the float64 {@link ReferenceOps}) by relative L2 error. Outputs are
 * poisoned with NaN before each run, and each executable runs twice (re-poisoned) so state kept between
 * runs is checked too. A backend's test extends this class; a GPU backend can override {@link #oracle()}
 * with a {@link BackendOracle} of the CPU backend and {@link #tolerances()} for F16.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class OperatorConformanceSuite {
    private Backend backend;
    private Oracle oracle;

    /** The backend under test; closed after the suite. */
    protected abstract Backend createBackend();

    /** What results are compared with. */
    protected Oracle oracle() {
        return Oracle.reference();
    }

    protected Tolerances tolerances() {
        return Tolerances.F32_REFERENCE;
    }

    protected Precision precision() {
        return Precision.F32;
    }

    /**
     * Whether each case's inputs and outputs pass through an exact "+ 0", so that the operators read and write
     * the backend's intermediate storage (e.g. F16 activations) instead of graph inputs and outputs.
     */
    protected boolean staged() {
        return false;
    }

    /** The cases to run; a backend may drop some with a stated reason, never loosen them silently. */
    protected List<ConformanceCase> cases() {
        return ConformanceCases.all();
    }

    @BeforeAll
    void startBackend() {
        backend = createBackend();
        oracle = oracle();
    }

    @AfterAll
    void stopBackend() {
        if (backend != null) {
            backend.close();
        }
    }

    protected Backend backend() {
        return backend;
    }

    @TestFactory
    Stream<DynamicTest> operatorsMatchTheOracle() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c)));
    }

    private void check(ConformanceCase c) {
        TestRandom random = TestRandom.fresh();
        double tolerance = tolerances().of(c.accuracy());
        try (Problem p = c.build(random, staged())) {
            List<double[]> expected = oracle.evaluate(p.graph(), p.inputs());
            List<DeviceTensor> in = new ArrayList<>();
            List<DeviceTensor> out = PoisonedOutputs.allocate(backend, p.graph().outputs());
            try (Executable exe = backend.compile(p.graph(), precision())) {
                for (Tensor t : p.inputs()) {
                    in.add(backend.upload(t));
                }
                for (int run = 1; run <= 2; run++) {
                    if (run == 2) {
                        out.forEach(d -> PoisonedOutputs.poison(backend, d));
                    }
                    exe.run(in, out);
                    for (int i = 0; i < out.size(); i++) {
                        try (Tensor actual = backend.download(out.get(i))) {
                            double err = Numerics.relativeL2(actual.toFloatArray(), expected.get(i));
                            Value v = p.graph().outputs().get(i);
                            if (run == 1) {
                                System.out.printf(Locale.ROOT, "conformance %-50s output %d relL2 %.3e (tolerance %.0e)%n",
                                        c.name(), i, err, tolerance);
                            }
                            assertThat(err)
                                    .as("%s, output %d %s, run %d: relative L2 error against %s; %s", c.name(), i, v, run,
                                            oracleName(), random)
                                    .isLessThanOrEqualTo(tolerance);
                        }
                    }
                }
            } finally {
                in.forEach(DeviceTensor::close);
                out.forEach(DeviceTensor::close);
            }
        }
    }

    private String oracleName() {
        return oracle instanceof BackendOracle ? "the trusted backend" : "the float64 reference";
    }

    @Test
    void closingAnExecutableAndItsTensorsReleasesTheirMemory() {
        long before = backend.deviceBytesInUse();
        try (Problem p = ConformanceCases.all().getFirst().build(TestRandom.fresh())) {
            List<DeviceTensor> out = PoisonedOutputs.allocate(backend, p.graph().outputs());
            try (Executable exe = backend.compile(p.graph(), precision())) {
                List<DeviceTensor> in = new ArrayList<>();
                for (Tensor t : p.inputs()) {
                    in.add(backend.upload(t));
                }
                exe.run(in, out);
                assertThat(backend.deviceBytesInUse()).isGreaterThan(before);
                in.forEach(DeviceTensor::close);
            }
            out.forEach(DeviceTensor::close);
        }
        assertThat(backend.deviceBytesInUse()).isEqualTo(before);
        assertThat(backend.peakDeviceBytes()).isGreaterThan(before);
    }
}
