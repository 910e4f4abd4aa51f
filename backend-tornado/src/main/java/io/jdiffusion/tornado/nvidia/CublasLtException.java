package io.jdiffusion.tornado.nvidia;

/** A cuBLASLt call that did not return CUBLAS_STATUS_SUCCESS: the call, its status code and the status's name. */
public final class CublasLtException extends RuntimeException {
    private final int status;

    CublasLtException(String call, int status, String statusName, String context) {
        super(call + " returned " + statusName + " (" + status + ")" + (context.isEmpty() ? "" : ": " + context));
        this.status = status;
    }

    /** The cublasStatus_t the call returned. */
    public int status() {
        return status;
    }
}
