package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.runtime.tasks.PrebuiltTask;
import uk.ac.manchester.tornado.runtime.tasks.meta.ScheduleContext;

/**
 * A prebuilt task that equals itself. TornadoVM 5.2.0's {@code PrebuiltTask.equals} is true only for a compiled task
 * of the same id, so its interpreter, which finds a task's compiled code by {@code indexOf} in the graph's task list
 * and falls back to index 0, launched the graph's first kernel for every prebuilt task of a graph (on PoCL, a chain
 * of {@code touchAll, fill, fill, linear} ran {@code touchAll} four times).
 */
final class TwinTask extends PrebuiltTask {
    TwinTask(ScheduleContext graph, String id, String entryPoint, String filename, Object[] args, Access[] accesses) {
        super(graph, id, entryPoint, filename, args, accesses);
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof PrebuiltTask other && getId().equals(other.getId());
    }

    @Override
    public int hashCode() {
        return super.hashCode();
    }
}
