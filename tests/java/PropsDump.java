// Reads N.properties (N = 0 .. count-1) from a folder with java.util.Properties.load, as the engines
// read catalog files (a UTF-8 Reader), and prints one line per file: "N ok KEY=VALUE ..." with keys
// and values as hex UTF-16 code units, or "N error" when load throws. Used by
// tests/properties_java.rs to compare the agent's reader with Java's.
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Properties;

public class PropsDump {
    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[0]);
        int count = Integer.parseInt(args[1]);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
            byte[] bytes = Files.readAllBytes(dir.resolve(i + ".properties"));
            Properties properties = new Properties();
            out.append(i);
            try (Reader reader = new InputStreamReader(new ByteArrayInputStream(bytes), StandardCharsets.UTF_8)) {
                properties.load(reader);
                out.append(" ok");
                for (String key : properties.stringPropertyNames()) {
                    out.append(' ').append(hex(key)).append('=').append(hex(properties.getProperty(key)));
                }
            } catch (IllegalArgumentException e) {
                out.append(" error");
            }
            out.append('\n');
        }
        System.out.print(out);
    }

    private static String hex(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            out.append(String.format("%04x", (int) text.charAt(i)));
        }
        return out.toString();
    }
}
