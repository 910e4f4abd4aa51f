package io.jdiffusion.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OneLineTest {
    @Test
    void lineBreaksAndControlCharactersBecomeOneSpace() {
        assertThat(OneLine.of("Down\nEncoder\r\n\tBlock\u0000\u001b[31m2D")).isEqualTo("Down Encoder Block [31m2D");
        assertThat(OneLine.flatten("a\u2028b\u0085c")).doesNotContain("\n", "\r").contains("a");
        assertThat(OneLine.flatten(null)).isNull();
    }

    @Test
    void longValuesAreCutLongMessagesAreNot() {
        String longValue = "x".repeat(500);
        assertThat(OneLine.of(longValue)).hasSize(OneLine.MAX_VALUE).endsWith("...");
        assertThat(OneLine.flatten(longValue)).isEqualTo(longValue);
        assertThat(OneLine.of(42)).isEqualTo("42");
        assertThat(OneLine.of(longValue, 1000)).isEqualTo(longValue);
        assertThat(OneLine.of(longValue, 100)).hasSize(100).endsWith("...");
    }
}
