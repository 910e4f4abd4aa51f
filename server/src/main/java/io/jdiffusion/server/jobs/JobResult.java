package io.jdiffusion.server.jobs;

import java.util.List;

/**
 * What a finished job made: PNG files (each with A1111's parameters text), their seeds and infotexts, the
 * job's timestamp, whether it was interrupted, and the pipeline's warnings (e.g. a prompt truncated).
 */
public record JobResult(List<byte[]> pngs, List<Long> seeds, List<String> infotexts, String jobTimestamp,
                        boolean interrupted, List<String> warnings) {
}
