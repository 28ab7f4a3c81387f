// Reads properties files the ways Java and the engines read them, for tests/properties_java.rs and
// the fuzz/fuzz_targets/properties_java.rs fuzz target, which compare the agent's reader with them.
//
//   java PropsDump.java MODE DIR COUNT   reads DIR/N.properties (N = 0 .. COUNT-1), one line per file
//   java PropsDump.java serve            reads framed inputs from stdin (4-byte big-endian length,
//                                        then the bytes), answers one line per input on stdout
//
// MODE is `utf8` (Properties.load over a UTF-8 Reader, malformed bytes becoming the replacement character), `latin1`
// (Properties.load over the bytes: ISO-8859-1), or `loader:CLASS`, which calls the static
// CLASS.loadPropertiesFrom(String path) — airlift's ConfigurationLoader, which is how Trino and
// PrestoDB read catalog files — from whatever classpath the JVM was given (the engine's own jars).
// A line is "N ok KEY=VALUE ..." with keys and values as hex UTF-16 code units, or "N error" when
// reading throws IllegalArgumentException (a malformed backslash-u escape). In serve mode a line holds
// the `utf8` answer, " | ", then the `latin1` answer.
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Reader;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

public class PropsDump {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("serve")) {
            serve();
            return;
        }
        String mode = args[0];
        Path dir = Paths.get(args[1]);
        int count = Integer.parseInt(args[2]);
        Method loader = null;
        if (mode.startsWith("loader:")) {
            loader = Class.forName(mode.substring("loader:".length())).getMethod("loadPropertiesFrom", String.class);
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
            Path file = dir.resolve(i + ".properties");
            out.append(i);
            if (loader != null) {
                answer(out, viaLoader(loader, file));
            }
            else {
                answer(out, read(Files.readAllBytes(file), mode.equals("utf8")));
            }
            out.append('\n');
        }
        System.out.print(out);
    }

    private static void serve() throws Exception {
        DataInputStream in = new DataInputStream(System.in);
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
        while (true) {
            int length;
            try {
                length = in.readInt();
            }
            catch (EOFException e) {
                return;
            }
            byte[] bytes = new byte[length];
            in.readFully(bytes);
            StringBuilder line = new StringBuilder("0");
            answer(line, read(bytes, true));
            line.append(" | 0");
            answer(line, read(bytes, false));
            out.print(line.append('\n'));
            out.flush();
        }
    }

    /// The properties read, or null when reading throws IllegalArgumentException.
    private static Map<String, String> read(byte[] bytes, boolean utf8) throws Exception {
        Properties properties = new Properties();
        try {
            if (utf8) {
                try (Reader reader = new InputStreamReader(new ByteArrayInputStream(bytes), StandardCharsets.UTF_8)) {
                    properties.load(reader);
                }
            }
            else {
                properties.load(new ByteArrayInputStream(bytes));
            }
        }
        catch (IllegalArgumentException e) {
            return null;
        }
        Map<String, String> map = new TreeMap<>();
        for (String key : properties.stringPropertyNames()) {
            map.put(key, properties.getProperty(key));
        }
        return map;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> viaLoader(Method loader, Path file) throws Exception {
        try {
            return (Map<String, String>) loader.invoke(null, file.toString());
        }
        catch (InvocationTargetException e) {
            if (e.getCause() instanceof IllegalArgumentException) {
                return null;
            }
            throw e;
        }
    }

    private static void answer(StringBuilder out, Map<String, String> map) {
        if (map == null) {
            out.append(" error");
            return;
        }
        out.append(" ok");
        for (Map.Entry<String, String> entry : map.entrySet()) {
            out.append(' ').append(hex(entry.getKey())).append('=').append(hex(entry.getValue()));
        }
    }

    private static String hex(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            out.append(String.format("%04x", (int) text.charAt(i)));
        }
        return out.toString();
    }
}
