package io.jdiffusion.backend;

/** The type activations are computed in; accumulation is always F32. */
public enum Precision {
    F32,
    F16
}
