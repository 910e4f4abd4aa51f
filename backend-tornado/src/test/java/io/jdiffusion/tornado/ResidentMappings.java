package io.jdiffusion.tornado;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Where this process's resident memory lies, from Linux's /proc/self/smaps: resident kiB summed per mapped file
 * (a library, a jar, a memory-mapped checkpoint) and per kind of anonymous mapping, for benchmarks that report
 * host RSS (what a GPU run keeps on the host besides the weights it uploaded).
 */
final class ResidentMappings {
    /** A mapping's header: address range, permissions, offset, device, inode, then the optional path. */
    private static final Pattern HEADER = Pattern.compile("^[0-9a-f]+-[0-9a-f]+ \\S{4} [0-9a-f]+ \\S+ \\d+\\s*(.*)$");

    private ResidentMappings() {
    }

    /** Resident kiB per mapped path ("[anonymous]" for mappings without one), largest first; empty where there is no smaps. */
    static List<Map.Entry<String, Long>> byPath() {
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.isReadable(smaps)) {
            return List.of();
        }
        Map<String, Long> kib = new HashMap<>();
        String current = null;
        try {
            for (String line : Files.readAllLines(smaps)) {
                var header = HEADER.matcher(line);
                if (header.matches()) {
                    current = header.group(1).isBlank() ? "[anonymous]" : header.group(1).trim();
                } else if (line.startsWith("Rss:") && current != null) {
                    kib.merge(current, Long.parseLong(line.replaceAll("\\D", "")), Long::sum);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + smaps, e);
        }
        return kib.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).toList();
    }
}
