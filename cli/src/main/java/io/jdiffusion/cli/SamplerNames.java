package io.jdiffusion.cli;

import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.models.scheduler.Schedule;

import java.util.Iterator;

/** The sampler options of the command line, read from the sampler registry: names for help, and their checks. */
final class SamplerNames implements Iterable<String> {

    /** The sampler named (null: the model's default) and the schedule. */
    record Resolved(Sampler sampler, Schedule schedule) {
    }

    @Override
    public Iterator<String> iterator() {
        return Sampler.cliNames().iterator();
    }

    /** The schedule names, for {@code --schedule}'s help. */
    static final class Schedules implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Schedule.cliNames().iterator();
        }
    }

    /**
     * {@code --sampler}, {@code --schedule} and {@code --karras} together: a schedule may come from any of
     * them ("DPM++ 2M Karras" names one), but they must agree, and the sampler must take it.
     *
     * @throws IllegalArgumentException one line naming the problem
     */
    static Resolved resolve(String samplerName, String scheduleName, boolean karras) {
        Sampler.Choice named = samplerName == null ? null : Sampler.parse(samplerName);
        Schedule schedule = Schedule.DEFAULT;
        for (Schedule given : new Schedule[] {named == null ? Schedule.DEFAULT : named.schedule(),
                scheduleName == null ? Schedule.DEFAULT : Schedule.parse(scheduleName),
                karras ? Schedule.KARRAS : Schedule.DEFAULT}) {
            if (given != Schedule.DEFAULT) {
                if (schedule != Schedule.DEFAULT && schedule != given) {
                    throw new IllegalArgumentException("conflicting schedules: " + schedule.cliName() + " and " + given.cliName());
                }
                schedule = given;
            }
        }
        if (named != null) {
            new Sampler.Choice(named.sampler(), schedule).checked();
        }
        return new Resolved(named == null ? null : named.sampler(), schedule);
    }
}
