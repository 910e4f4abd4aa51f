package io.jdiffusion.tornado.nvidia;

/** A cuDNN call that did not return CUDNN_STATUS_SUCCESS: the call, cuDNN's status and what was being done. */
public final class CudnnException extends RuntimeException {
    private final String function;
    private final int status;

    CudnnException(String function, int status, String statusName, String what) {
        super(function + " returned " + statusName + " (" + what + ")");
        this.function = function;
        this.status = status;
    }

    public String function() {
        return function;
    }

    public int status() {
        return status;
    }
}
