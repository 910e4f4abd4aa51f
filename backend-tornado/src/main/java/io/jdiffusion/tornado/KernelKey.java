package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.KernelContext;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

/**
 * What Graal specialises a task's code on, so what tells two kernels apart: the method, its scalar arguments, and
 * the type of each array argument with where it first appears (an array passed twice compiles otherwise than two
 * arrays). Tasks of one key run one compiled kernel ({@link KernelTwins}).
 */
record KernelKey(Method method, List<Object> arguments) {
    static KernelKey of(Method method, Object[] args) {
        List<Object> shape = new ArrayList<>(args.length);
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (isScalar(a)) {
                shape.add(a);
            } else if (a instanceof KernelContext) {
                shape.add("context");
            } else {
                shape.add(a.getClass().getName() + "#" + firstIndexOf(args, a, i));
            }
        }
        return new KernelKey(method, List.copyOf(shape));
    }

    static boolean isScalar(Object a) {
        return a instanceof Number || a instanceof Boolean || a instanceof Character;
    }

    private static int firstIndexOf(Object[] args, Object a, int upTo) {
        for (int j = 0; j < upTo; j++) {
            if (args[j] == a) {
                return j;
            }
        }
        return upTo;
    }
}
