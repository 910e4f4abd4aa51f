package io.jdiffusion.server.api;

/** Checkpoint names as A1111 clients send them: the title, or the title with a " [hash]" suffix. */
public final class Checkpoints {
    private Checkpoints() {
    }

    public static boolean matches(String asked, String title) {
        String name = asked.strip();
        int bracket = name.lastIndexOf(" [");
        if (bracket > 0 && name.endsWith("]")) {
            name = name.substring(0, bracket);
        }
        return name.equals(title);
    }
}
