package io.jdiffusion.models.testsupport;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A port of the reading rules of AUTOMATIC1111's {@code parse_generation_parameters}
 * (modules/infotext_utils.py): the last line holds the pairs when {@code re_param} finds at least three
 * there; earlier lines are the prompt until one starts (after trimming) with "Negative prompt:"; quoted
 * values are JSON strings; "WxH" values become {@code Key-1} and {@code Key-2}. The defaults A1111 then
 * fills in for its own UI (Clip skip 1, Hires ..., RNG) are left out: they are not in the text.
 */
public final class A1111InfotextParser {
    private static final Pattern RE_PARAM = Pattern.compile(
            "\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern RE_IMAGESIZE = Pattern.compile("^(\\d+)x(\\d+)$");
    private static final String NEGATIVE = "Negative prompt:";

    private A1111InfotextParser() {
    }

    public static Map<String, String> parse(String x) {
        Map<String, String> res = new LinkedHashMap<>();
        List<String> lines = new ArrayList<>(Arrays.asList(x.strip().split("\n", -1)));
        String lastline = lines.removeLast();
        if (findall(lastline).size() < 3) {
            lines.add(lastline);
            lastline = "";
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = new StringBuilder();
        boolean doneWithPrompt = false;
        for (String raw : lines) {
            String line = raw.strip();
            if (line.startsWith(NEGATIVE)) {
                doneWithPrompt = true;
                line = line.substring(NEGATIVE.length()).strip();
            }
            StringBuilder target = doneWithPrompt ? negative : prompt;
            target.append(target.isEmpty() ? "" : "\n").append(line);
        }
        res.put("Prompt", prompt.toString());
        res.put("Negative prompt", negative.toString());
        for (String[] kv : findall(lastline)) {
            String k = kv[0];
            String v = kv[1];
            if (!v.isEmpty() && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                v = unquote(v);
            }
            Matcher m = RE_IMAGESIZE.matcher(v);
            if (m.matches()) {
                res.put(k + "-1", m.group(1));
                res.put(k + "-2", m.group(2));
            } else {
                res.put(k, v);
            }
        }
        return res;
    }

    private static List<String[]> findall(String line) {
        List<String[]> found = new ArrayList<>();
        Matcher m = RE_PARAM.matcher(line);
        while (m.find()) {
            found.add(new String[]{m.group(1), m.group(2)});
        }
        return found;
    }

    /** json.loads, or the text as it is when it is no JSON string. */
    private static String unquote(String text) {
        try {
            return new ObjectMapper().readValue(text, String.class);
        } catch (IOException e) {
            return text;
        }
    }
}
