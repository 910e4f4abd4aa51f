package io.jdiffusion.tornado.nvidia;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Creating descriptors of cuDNN's graph API (the "backend" descriptors of cudnn_graph.h), each kept in {@code owned}
 * to be destroyed with the plan that uses it, and setting and reading their attributes; host memory for the
 * attribute values comes from {@code a}. The constants are cudnn_graph.h's, for the attributes every plan sets
 * ({@link GraphExecutionPlan}); each operation's own stay with the class that builds it.
 */
record GraphDescriptors(CudnnConv cudnn, Arena a, String what, List<MemorySegment> owned) {
    // cudnnBackendDescriptorType_t
    static final int ENGINE_DESCRIPTOR = 2;
    static final int ENGINECFG_DESCRIPTOR = 3;
    static final int ENGINEHEUR_DESCRIPTOR = 4;
    static final int EXECUTION_PLAN_DESCRIPTOR = 5;
    static final int OPERATIONGRAPH_DESCRIPTOR = 15;
    static final int VARIANT_PACK_DESCRIPTOR = 16;
    static final int TENSOR_DESCRIPTOR = 17;
    // cudnnBackendAttributeType_t
    static final int TYPE_HANDLE = 0;
    static final int TYPE_DATA_TYPE = 1;
    static final int TYPE_BOOLEAN = 2;
    static final int TYPE_INT64 = 3;
    static final int TYPE_FLOAT = 4;
    static final int TYPE_VOID_PTR = 6;
    static final int TYPE_HEUR_MODE = 8;
    static final int TYPE_NUMERICAL_NOTE = 11;
    static final int TYPE_BACKEND_DESCRIPTOR = 15;
    // cudnnBackendAttributeName_t
    static final int ENGINEHEUR_MODE = 200;
    static final int ENGINEHEUR_OPERATION_GRAPH = 201;
    static final int ENGINEHEUR_RESULTS = 202;
    static final int ENGINECFG_ENGINE = 300;
    static final int EXECUTION_PLAN_HANDLE = 400;
    static final int EXECUTION_PLAN_ENGINE_CONFIG = 401;
    static final int EXECUTION_PLAN_WORKSPACE_SIZE = 402;
    static final int OPERATIONGRAPH_HANDLE = 800;
    static final int OPERATIONGRAPH_OPS = 801;
    static final int TENSOR_BYTE_ALIGNMENT = 900;
    static final int TENSOR_DATA_TYPE = 901;
    static final int TENSOR_DIMENSIONS = 902;
    static final int TENSOR_STRIDES = 903;
    static final int TENSOR_UNIQUE_ID = 906;
    static final int TENSOR_IS_BY_VALUE = 908;
    static final int VARIANT_PACK_UNIQUE_IDS = 1000;
    static final int VARIANT_PACK_DATA_POINTERS = 1001;
    static final int VARIANT_PACK_WORKSPACE = 1003;
    static final int ENGINE_GLOBAL_INDEX = 1301;
    static final int ENGINE_NUMERICAL_NOTE = 1303;

    MemorySegment create(int type) {
        MemorySegment out = a.allocate(ADDRESS);
        cudnn.call("cudnnBackendCreateDescriptor", what, type, out);
        MemorySegment d = out.get(ADDRESS, 0);
        synchronized (owned) {
            owned.add(d);
        }
        return d;
    }

    /** An F16 device tensor with unique id {@code uid}, declared {@link CudnnConvolution#GRAPH_OPERAND_ALIGNMENT}-byte aligned. */
    MemorySegment halfTensor(long uid, long[] dims, long[] strides) {
        return tensor(uid, CudnnConv.DATA_HALF, dims, strides, CudnnConvolution.GRAPH_OPERAND_ALIGNMENT, false);
    }

    /**
     * A scalar F32 of {@code rank} dimensions of 1, passed by value: its variant-pack pointer is a host address holding
     * the value, read when the plan is executed.
     */
    MemorySegment floatScalarByValue(long uid, int rank) {
        long[] ones = new long[rank];
        Arrays.fill(ones, 1);
        return tensor(uid, CudnnConv.DATA_FLOAT, ones, ones, Float.BYTES, true);
    }

    private MemorySegment tensor(long uid, int dataType, long[] dims, long[] strides, long alignment, boolean byValue) {
        MemorySegment t = create(TENSOR_DESCRIPTOR);
        setInts(t, TENSOR_DATA_TYPE, TYPE_DATA_TYPE, dataType);
        setLongs(t, TENSOR_DIMENSIONS, dims);
        setLongs(t, TENSOR_STRIDES, strides);
        setLongs(t, TENSOR_UNIQUE_ID, uid);
        setLongs(t, TENSOR_BYTE_ALIGNMENT, alignment);
        if (byValue) {
            setBoolean(t, TENSOR_IS_BY_VALUE, true);
        }
        finalize(t);
        return t;
    }

    void finalize(MemorySegment d) {
        cudnn.call("cudnnBackendFinalize", what, d);
    }

    private void set(MemorySegment d, int name, int type, long count, MemorySegment values) {
        cudnn.call("cudnnBackendSetAttribute", what + ", attribute " + name, d, name, type, count, values);
    }

    void setLongs(MemorySegment d, int name, long... values) {
        set(d, name, TYPE_INT64, values.length, a.allocateFrom(JAVA_LONG, values));
    }

    /** An attribute whose C type is an enum (4 bytes). */
    void setInts(MemorySegment d, int name, int type, int... values) {
        set(d, name, type, values.length, a.allocateFrom(JAVA_INT, values));
    }

    /** An attribute whose C type is bool (1 byte). */
    void setBoolean(MemorySegment d, int name, boolean value) {
        MemorySegment v = a.allocate(JAVA_BOOLEAN);
        v.set(JAVA_BOOLEAN, 0, value);
        set(d, name, TYPE_BOOLEAN, 1, v);
    }

    void setFloat(MemorySegment d, int name, float value) {
        set(d, name, TYPE_FLOAT, 1, a.allocateFrom(JAVA_FLOAT, value));
    }

    void setHandle(MemorySegment d, int name, MemorySegment handle) {
        MemorySegment v = a.allocate(ADDRESS);
        v.set(ADDRESS, 0, handle);
        set(d, name, TYPE_HANDLE, 1, v);
    }

    void setDescriptors(MemorySegment d, int name, MemorySegment... values) {
        set(d, name, TYPE_BACKEND_DESCRIPTOR, values.length, addresses(values));
    }

    void setPointers(MemorySegment d, int name, long... addresses) {
        MemorySegment v = a.allocate(ADDRESS, addresses.length);
        for (int i = 0; i < addresses.length; i++) {
            v.setAtIndex(ADDRESS, i, MemorySegment.ofAddress(addresses[i]));
        }
        set(d, name, TYPE_VOID_PTR, addresses.length, v);
    }

    private MemorySegment addresses(MemorySegment[] values) {
        MemorySegment v = a.allocate(ADDRESS, values.length);
        for (int i = 0; i < values.length; i++) {
            v.setAtIndex(ADDRESS, i, values[i]);
        }
        return v;
    }

    /** How many elements attribute {@code name} (descriptors) holds. */
    long count(MemorySegment d, int name) {
        MemorySegment count = a.allocate(JAVA_LONG);
        cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_BACKEND_DESCRIPTOR, 0L, count,
                MemorySegment.NULL);
        return count.get(JAVA_LONG, 0);
    }

    /** Fills the caller-created {@code into} from attribute {@code name}; returns how many cuDNN wrote. */
    int getDescriptors(MemorySegment d, int name, MemorySegment... into) {
        MemorySegment count = a.allocate(JAVA_LONG);
        cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_BACKEND_DESCRIPTOR, (long) into.length, count,
                addresses(into));
        return (int) count.get(JAVA_LONG, 0);
    }

    long getLong(MemorySegment d, int name) {
        MemorySegment count = a.allocate(JAVA_LONG);
        MemorySegment v = a.allocate(JAVA_LONG);
        cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, TYPE_INT64, 1L, count, v);
        return v.get(JAVA_LONG, 0);
    }

    int[] getInts(MemorySegment d, int name, int type, int max) {
        MemorySegment count = a.allocate(JAVA_LONG);
        MemorySegment v = a.allocate(JAVA_INT, max);
        cudnn.call("cudnnBackendGetAttribute", what + ", attribute " + name, d, name, type, (long) max, count, v);
        int n = (int) Math.min(max, count.get(JAVA_LONG, 0));
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = v.getAtIndex(JAVA_INT, i);
        }
        return out;
    }
}
