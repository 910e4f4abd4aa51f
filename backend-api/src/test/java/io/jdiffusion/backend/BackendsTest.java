package io.jdiffusion.backend;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Uses the fake providers registered in this module's test resources. */
class BackendsTest {
    @AfterEach
    void clearProperty() {
        System.clearProperty(Backends.PROPERTY);
    }

    @Test
    void discoversProvidersHighestPriorityFirst() {
        assertThat(Backends.discover()).extracting(BackendProvider::name).containsExactly("fastgone", "slow");
    }

    @Test
    void picksTheAvailableProviderWithTheHighestPriority() {
        assertThat(Backends.select(null).name()).isEqualTo("slow");
    }

    @Test
    void picksByNameOrProperty() {
        assertThat(Backends.select("SLOW").name()).isEqualTo("slow");
        System.setProperty(Backends.PROPERTY, "slow");
        assertThat(Backends.select(null).name()).isEqualTo("slow");
    }

    @Test
    void explainsUnavailableAndUnknownBackends() {
        assertThatThrownBy(() -> Backends.select("fastgone")).hasMessageContaining("unavailable").hasMessageContaining("no device here");
        assertThatThrownBy(() -> Backends.select("nope")).hasMessageContaining("no backend named 'nope'").hasMessageContaining("fastgone, slow");
    }

    public static final class Slow extends FakeProvider {
        public Slow() {
            super("slow", 1, Availability.yes());
        }
    }

    public static final class FastGone extends FakeProvider {
        public FastGone() {
            super("fastgone", 50, Availability.no("no device here"));
        }
    }

    abstract static class FakeProvider implements BackendProvider {
        private final String name;
        private final int priority;
        private final Availability availability;

        FakeProvider(String name, int priority, Availability availability) {
            this.name = name;
            this.priority = priority;
            this.availability = availability;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int priority() {
            return priority;
        }

        @Override
        public Availability availability() {
            return availability;
        }

        @Override
        public String deviceDescription() {
            return "fake";
        }

        @Override
        public Backend create() {
            throw new UnsupportedOperationException("fake provider");
        }
    }
}
