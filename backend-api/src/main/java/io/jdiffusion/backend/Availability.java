package io.jdiffusion.backend;

/** Whether a backend can run here, and if not, a reason a person can act on. */
public record Availability(boolean available, String reason) {
    public static Availability yes() {
        return new Availability(true, "");
    }

    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
