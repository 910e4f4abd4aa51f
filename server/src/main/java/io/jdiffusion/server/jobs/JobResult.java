package io.jdiffusion.server.jobs;

import io.jdiffusion.server.api.ModelFacts;

import java.util.List;

/**
 * What a finished job made: PNG files (each with A1111's parameters text), their seeds and infotexts, the
 * job's timestamp, whether it was interrupted, the pipeline's warnings (e.g. a prompt truncated), and the
 * checkpoint that made them.
 */
public record JobResult(List<byte[]> pngs, List<Long> seeds, List<String> infotexts, String jobTimestamp,
                        boolean interrupted, List<String> warnings, ModelFacts model) {
}
