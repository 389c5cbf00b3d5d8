// Pinot's own validation of the schemas and table configs PinotOnlineStore writes, run with Pinot's jars
// of one release on the classpath (java -cp '<lib>/*' PinotConfigCheck.java pairs.json).
//
// pairs.json: [{"schema": {...}, "table": {...}}, ...]. For each pair, one JSON line on stdout:
// {"table": name, "ok": true, "unrecognized": {...}} or {"table": name, "ok": false, "error": "..."}.
// The checks are the controller's for POST /schemas and POST /tables: deserialize (noting properties
// Pinot does not know), SchemaUtils.validate (names compared ignoring case, as 1.x does by default),
// TableConfigUtils.validateTableName and TableConfigUtils.validate(tableConfig, schema).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.commons.lang3.tuple.Pair;
import org.apache.pinot.segment.local.utils.SchemaUtils;
import org.apache.pinot.segment.local.utils.TableConfigUtils;
import org.apache.pinot.spi.config.table.TableConfig;
import org.apache.pinot.spi.data.Schema;
import org.apache.pinot.spi.utils.JsonUtils;

public class PinotConfigCheck {
  public static void main(String[] args) throws Exception {
    for (JsonNode pair : JsonUtils.stringToJsonNode(Files.readString(Path.of(args[0])))) {
      ObjectNode out = JsonUtils.newObjectNode();
      out.put("table", pair.get("table").get("tableName").asText());
      try {
        Pair<Schema, Map<String, Object>> schema =
            JsonUtils.stringToObjectAndUnrecognizedProperties(pair.get("schema").toString(), Schema.class);
        Pair<TableConfig, Map<String, Object>> table =
            JsonUtils.stringToObjectAndUnrecognizedProperties(pair.get("table").toString(), TableConfig.class);
        SchemaUtils.validate(schema.getLeft(), List.of(table.getLeft()), true);
        TableConfigUtils.validateTableName(table.getLeft());
        TableConfigUtils.validate(table.getLeft(), schema.getLeft());
        ObjectNode unrecognized = JsonUtils.newObjectNode();
        schema.getRight().forEach((key, value) -> unrecognized.put("schema" + key, String.valueOf(value)));
        table.getRight().forEach((key, value) -> unrecognized.put("table" + key, String.valueOf(value)));
        out.put("ok", true);
        out.set("unrecognized", unrecognized);
      } catch (Exception e) {
        out.put("ok", false);
        out.put("error", e.toString());
      }
      System.out.println(out);
    }
  }
}
