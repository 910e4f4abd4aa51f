package io.jdiffusion.backend;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;

/**
 * A tensor living in a backend's memory. Its contents are reached only through
 * {@link Backend#upload} and {@link Backend#download}, so a GPU backend never copies behind the caller's back.
 */
public interface DeviceTensor extends AutoCloseable {
    Shape shape();

    DType dtype();

    /** The backend that made it; a tensor can only be used with that backend. */
    String backendName();

    @Override
    void close();
}
