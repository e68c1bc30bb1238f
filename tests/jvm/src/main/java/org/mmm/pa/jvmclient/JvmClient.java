package org.mmm.pa.jvmclient;

import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.dialect.Dialects;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A downstream system on the JVM, reading the PA worker's topics as the contract says it may.
 *
 * <p>Usage: {@code java -cp 'target/classes:target/lib/*' org.mmm.pa.jvmclient.JvmClient config.json}.
 * The config names the bootstrap servers, the four topics, contracts/schemas, the messages to
 * produce (key and base64 value each) and how many records to expect on each output topic.
 *
 * <p>It validates each message to produce against the published pa.request schema (as an intake
 * system would), produces them keyed with the Java client's default partitioner, then reads the
 * determinations, reauth-due and DLQ topics from the beginning with isolation.level=read_committed
 * and checks every record: the CloudEvents headers decode (UTF-8, specversion 1.0, ce_id the
 * event's id, ce_type the AsyncAPI's, ce_time RFC 3339), the headers validate against the AsyncAPI
 * header schemas, the payload validates against the published schema, the key is the member id,
 * and the record sits on the partition the Java partitioner gives for its key. Prints one JSON
 * summary on stdout; never prints payloads (patient data), only file names, ids and counts.
 */
public final class JvmClient {
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private JvmClient() {}

  public static void main(String[] args) throws Exception {
    JsonNode config = JSON.readTree(Files.readString(Path.of(args[0])));
    ObjectNode summary = new JvmClient().run(config);
    System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(summary));
  }

  private final List<String> problems = new ArrayList<>();

  private void problem(String what) {
    if (problems.size() < 200) {
      problems.add(what);
    }
  }

  ObjectNode run(JsonNode config) throws IOException, InterruptedException {
    long started = System.nanoTime();
    String bootstrap = config.get("bootstrap").asString();
    JsonNode topics = config.get("topics");
    String requestsTopic = topics.get("requests").asString();
    String detTopic = topics.get("determinations").asString();
    String reauthTopic = topics.get("reauth_due").asString();
    String dlqTopic = topics.get("dlq").asString();
    Path schemaDir = Path.of(config.get("schemas_dir").asString());

    // The published files, by their $id; format assertion on (Draft 2020-12 makes it opt-in).
    Map<String, String> byId = new HashMap<>();
    Map<String, String> idByTitle = new HashMap<>();
    try (var files = Files.list(schemaDir)) {
      for (Path p : files.filter(f -> f.toString().endsWith(".v1.json")).sorted().toList()) {
        String text = Files.readString(p);
        JsonNode node = JSON.readTree(text);
        byId.put(node.get("$id").asString(), text);
        idByTitle.put(node.get("title").asString(), node.get("$id").asString());
      }
    }
    JsonNode asyncapi = JSON.readTree(Files.readString(schemaDir.resolve("asyncapi.json")));
    JsonNode messages = asyncapi.get("components").get("messages");
    String ceHeadersId = "urn:pa-jvm-client:cloudevents-headers";
    String dlqHeadersId = "urn:pa-jvm-client:dlq-headers";
    byId.put(ceHeadersId, withDialect(messages.get("paDeterminationsMessage").get("headers")));
    byId.put(dlqHeadersId, withDialect(messages.get("paRequestsDeadLetter").get("headers")));
    SchemaRegistryConfig registryConfig =
        SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build();
    SchemaRegistry registry =
        SchemaRegistry.withDialect(
            Dialects.getDraft202012(),
            builder -> builder.schemas(byId).schemaRegistryConfig(registryConfig));
    Schema requestSchema = registry.getSchema(SchemaLocation.of(idByTitle.get("pa.request")));
    Schema detSchema = registry.getSchema(SchemaLocation.of(idByTitle.get("pa.determination")));
    Schema reauthSchema = registry.getSchema(SchemaLocation.of(idByTitle.get("pa.reauth_due")));
    Schema ceHeaders = registry.getSchema(SchemaLocation.of(ceHeadersId));
    Schema dlqHeaders = registry.getSchema(SchemaLocation.of(dlqHeadersId));
    Map<String, String> ceTypes = new HashMap<>();
    ceTypes.put(detTopic, messages.get("paDeterminationsMessage").get("x-cloudevents-type").asString());
    ceTypes.put(reauthTopic, messages.get("paReauthDueMessage").get("x-cloudevents-type").asString());

    ObjectNode summary = JSON.createObjectNode();

    // 1. Intake-side validation against the published request schema.
    ObjectNode intake = summary.putObject("intake_schema_errors");
    List<byte[][]> toSend = new ArrayList<>();
    Map<String, String> inputNameByValue = new HashMap<>();
    for (JsonNode input : config.get("inputs")) {
      String name = input.get("name").asString();
      byte[] key = input.get("key").asString().getBytes(StandardCharsets.UTF_8);
      byte[] value = Base64.getDecoder().decode(input.get("value_b64").asString());
      toSend.add(new byte[][] {key, value});
      inputNameByValue.put(Base64.getEncoder().encodeToString(value), name);
      ArrayNode errs = JSON.createArrayNode();
      JsonNode parsed = tryParse(value);
      if (parsed == null) {
        errs.add("not JSON");
      } else {
        for (Error e : requestSchema.validate(parsed)) {
          errs.add(e.toString());
        }
      }
      intake.set(name, errs);
    }

    // 2. Produce, keyed, with the default partitioner (no partition given).
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    Map<String, Integer> requestPartition = new TreeMap<>();
    int requestPartitions;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
      List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
      for (byte[][] kv : toSend) {
        sent.add(producer.send(new ProducerRecord<>(requestsTopic, kv[0], kv[1])));
      }
      producer.flush();
      for (int i = 0; i < sent.size(); i++) {
        try {
          RecordMetadata md = sent.get(i).get();
          requestPartition.put(new String(toSend.get(i)[0], StandardCharsets.UTF_8), md.partition());
        } catch (java.util.concurrent.ExecutionException e) {
          problem("produce failed: " + e.getCause());
        }
      }
      requestPartitions = producer.partitionsFor(requestsTopic).size();
    }
    summary.put("produced", requestPartition.size() == 0 ? 0 : toSend.size());
    summary.put("request_partitions", requestPartitions);

    // 3. Read the three output topics from the beginning, read_committed.
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    JsonNode expect = config.get("expect");
    Map<String, Integer> expected = Map.of(
        detTopic, expect.get("determinations").asInt(),
        reauthTopic, expect.get("reauth_due").asInt(),
        dlqTopic, expect.get("dlq").asInt());
    Map<String, Integer> partitionCount = new HashMap<>();
    Map<String, List<ConsumerRecord<byte[], byte[]>>> read = new HashMap<>();
    long timeoutMs = config.get("timeout_ms").asLong();
    long idleMs = config.get("idle_ms").asLong();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (String t : List.of(detTopic, reauthTopic, dlqTopic)) {
        List<PartitionInfo> infos = consumer.partitionsFor(t, Duration.ofSeconds(30));
        partitionCount.put(t, infos.size());
        read.put(t, new ArrayList<>());
        for (PartitionInfo pi : infos) {
          tps.add(new TopicPartition(t, pi.partition()));
        }
      }
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      long deadline = System.currentTimeMillis() + timeoutMs;
      long quietSince = -1;
      while (System.currentTimeMillis() < deadline) {
        var records = consumer.poll(Duration.ofMillis(200));
        for (ConsumerRecord<byte[], byte[]> r : records) {
          read.get(r.topic()).add(r);
        }
        boolean all = expected.entrySet().stream().allMatch(e -> read.get(e.getKey()).size() >= e.getValue());
        if (!all) {
          quietSince = -1;
        } else if (!records.isEmpty() || quietSince < 0) {
          quietSince = System.currentTimeMillis(); // everything expected is here: wait for extras
        } else if (System.currentTimeMillis() - quietSince >= idleMs) {
          break;
        }
      }
    }

    // 4. Check every record.
    ObjectNode counts = summary.putObject("read");
    ObjectNode spread = summary.putObject("partitions_used");
    Map<String, Integer> detPartitionByMember = new TreeMap<>();
    TreeSet<String> decisions = new TreeSet<>();
    for (String t : List.of(detTopic, reauthTopic, dlqTopic)) {
      List<ConsumerRecord<byte[], byte[]>> records = read.get(t);
      String role = t.equals(detTopic) ? "determinations" : t.equals(reauthTopic) ? "reauth_due" : "dlq";
      counts.put(role, records.size());
      TreeSet<Integer> used = new TreeSet<>();
      for (ConsumerRecord<byte[], byte[]> r : records) {
        String where = role + " partition " + r.partition() + " offset " + r.offset();
        used.add(r.partition());
        if (r.key() == null) {
          problem(where + ": no key");
          continue;
        }
        String key = new String(r.key(), StandardCharsets.UTF_8);
        int javaPartition = BuiltInPartitioner.partitionForKey(r.key(), partitionCount.get(t));
        if (javaPartition != r.partition()) {
          problem(where + ": the Java partitioner puts this key on partition " + javaPartition);
        }
        ObjectNode headers = decodeHeaders(r, where);
        if (t.equals(dlqTopic)) {
          for (Error e : dlqHeaders.validate(headers)) {
            problem(where + ": DLQ headers: " + e);
          }
          String original = inputNameByValue.get(Base64.getEncoder().encodeToString(r.value()));
          if (original == null) {
            problem(where + ": value is none of the produced messages' bytes");
          }
          continue;
        }
        for (Error e : ceHeaders.validate(headers)) {
          problem(where + ": CloudEvents headers: " + e);
        }
        checkCloudEvent(headers, ceTypes.get(t), where);
        JsonNode payload = tryParse(r.value());
        if (payload == null) {
          problem(where + ": payload is not JSON");
          continue;
        }
        Schema schema = t.equals(detTopic) ? detSchema : reauthSchema;
        for (Error e : schema.validate(payload)) {
          problem(where + ": payload fails the published schema: " + e);
        }
        String id = payload.path(t.equals(detTopic) ? "determination_id" : "event_id").asString("");
        if (!id.equals(headers.path("ce_id").asString(""))) {
          problem(where + ": ce_id is not the event's id");
        }
        if (!key.equals(payload.path("member_id").asString(""))) {
          problem(where + ": key is not the payload's member_id");
        }
        if (t.equals(detTopic)) {
          detPartitionByMember.put(key, r.partition());
          decisions.add(payload.path("decision").asString(""));
          Integer reqPartition = requestPartition.get(key);
          if (reqPartition != null && partitionCount.get(t) == requestPartitions
              && reqPartition != r.partition()) {
            problem(where + ": the member's request went to partition " + reqPartition);
          }
        }
      }
      ArrayNode u = spread.putArray(role);
      used.forEach(u::add);
    }
    summary.put("members_with_determinations", detPartitionByMember.size());
    ArrayNode d = summary.putArray("decisions");
    decisions.forEach(d::add);
    ObjectNode pc = summary.putObject("partition_counts");
    partitionCount.forEach((topic, n) -> pc.put(
        topic.equals(detTopic) ? "determinations" : topic.equals(reauthTopic) ? "reauth_due" : "dlq", n));
    ArrayNode p = summary.putArray("problems");
    problems.forEach(p::add);
    summary.put("elapsed_ms", (System.nanoTime() - started) / 1_000_000);
    return summary;
  }

  private static String withDialect(JsonNode headersSchema) {
    ObjectNode copy = (ObjectNode) headersSchema.deepCopy();
    copy.put("$schema", "https://json-schema.org/draft/2020-12/schema");
    return copy.toString();
  }

  private static JsonNode tryParse(byte[] value) {
    try {
      String text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(value))
          .toString();
      return JSON.readTree(text);
    } catch (CharacterCodingException | RuntimeException e) {
      return null;
    }
  }

  /** Every header as a string (strict UTF-8); a header that does not decode is a problem. */
  private ObjectNode decodeHeaders(ConsumerRecord<byte[], byte[]> r, String where) {
    ObjectNode out = JSON.createObjectNode();
    for (Header h : r.headers()) {
      try {
        String v = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(h.value() == null ? new byte[0] : h.value()))
            .toString();
        if (out.has(h.key())) {
          problem(where + ": header " + h.key() + " appears twice");
        }
        out.put(h.key(), v);
      } catch (CharacterCodingException e) {
        problem(where + ": header " + h.key() + " is not UTF-8");
      }
    }
    return out;
  }

  private void checkCloudEvent(ObjectNode h, String ceType, String where) {
    if (!"1.0".equals(h.path("ce_specversion").asString(""))) {
      problem(where + ": ce_specversion is not 1.0");
    }
    if (h.path("ce_id").asString("").isEmpty()) {
      problem(where + ": ce_id empty");
    }
    if (h.path("ce_source").asString("").isEmpty()) {
      problem(where + ": ce_source empty");
    }
    if (!ceType.equals(h.path("ce_type").asString(""))) {
      problem(where + ": ce_type is not " + ceType);
    }
    try {
      OffsetDateTime.parse(h.path("ce_time").asString(""));
    } catch (DateTimeParseException e) {
      problem(where + ": ce_time is not an RFC 3339 timestamp");
    }
    if (!"application/json".equals(h.path("content-type").asString(""))) {
      problem(where + ": content-type is not application/json");
    }
  }
}
