// Applies deploy/kafka-acls/acls.txt to a cluster with the Kafka Admin API, or prints it as
// kafka-acls.sh commands. Plain Java (single-file source launch), kafka-clients on the class path:
//
//   java -cp '<kafka libs>/*' deploy/kafka-acls/ApplyAcls.java --bootstrap-server HOST:PORT \
//        --command-config admin.properties [--verify] deploy/kafka-acls/acls.txt
//   java -cp '<kafka libs>/*' deploy/kafka-acls/ApplyAcls.java --print deploy/kafka-acls/acls.txt  (no connection)
//
// Apply adds every ACL of the file (adding an existing one is a no-op). --verify adds nothing
// and exits 1 when the ACLs of the file's principals on the cluster differ from the file.
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

public class ApplyAcls {
    record Line(String principal, String operation, String type, String pattern, String name) {
        String kafkaAcls() {
            String flag = switch (type) {
                case "topic" -> "--topic";
                case "group" -> "--group";
                case "transactional-id" -> "--transactional-id";
                default -> throw new IllegalArgumentException("unknown resource type " + type);
            };
            return "kafka-acls.sh --bootstrap-server \"$BOOTSTRAP\" --command-config admin.properties --add"
                + " --allow-principal " + principal + " --operation " + operation + " " + flag + " " + name
                + " --resource-pattern-type " + pattern;
        }
    }

    static List<Line> parse(Path file) throws Exception {
        List<Line> out = new ArrayList<>();
        int n = 0;
        for (String raw : Files.readAllLines(file)) {
            n++;
            String s = raw.strip();
            if (s.isEmpty() || s.startsWith("#")) continue;
            String[] f = s.split("\\s+");
            if (f.length != 5 || !f[0].startsWith("User:")
                || !Set.of("Read", "Write", "Describe").contains(f[1])
                || !Set.of("topic", "group", "transactional-id").contains(f[2])
                || !Set.of("literal", "prefixed").contains(f[3])) {
                throw new IllegalArgumentException(file + ":" + n + ": expected 'User:NAME Read|Write|Describe "
                    + "topic|group|transactional-id literal|prefixed NAME', got: " + s);
            }
            out.add(new Line(f[0], f[1], f[2], f[3], f[4]));
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = null, config = null, file = null;
        boolean print = false, verify = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bootstrap-server" -> bootstrap = args[++i];
                case "--command-config" -> config = args[++i];
                case "--print" -> print = true;
                case "--verify" -> verify = true;
                default -> file = args[i];
            }
        }
        if (file == null || (!print && bootstrap == null)) {
            System.err.println("usage: ApplyAcls (--print | --bootstrap-server HOST:PORT [--command-config FILE] [--verify]) ACLS_FILE");
            System.exit(2);
        }
        List<Line> lines = parse(Path.of(file));
        if (print) {
            for (Line l : lines) System.out.println(l.kafkaAcls());
            return;
        }
        Apply.run(bootstrap, config, lines, verify);
    }

    static class Apply {
        static org.apache.kafka.common.acl.AclBinding binding(Line l) {
            var type = switch (l.type()) {
                case "topic" -> org.apache.kafka.common.resource.ResourceType.TOPIC;
                case "group" -> org.apache.kafka.common.resource.ResourceType.GROUP;
                default -> org.apache.kafka.common.resource.ResourceType.TRANSACTIONAL_ID;
            };
            var pattern = l.pattern().equals("prefixed")
                ? org.apache.kafka.common.resource.PatternType.PREFIXED
                : org.apache.kafka.common.resource.PatternType.LITERAL;
            var op = org.apache.kafka.common.acl.AclOperation.fromString(l.operation());
            return new org.apache.kafka.common.acl.AclBinding(
                new org.apache.kafka.common.resource.ResourcePattern(type, l.name(), pattern),
                new org.apache.kafka.common.acl.AccessControlEntry(
                    l.principal(), "*", op, org.apache.kafka.common.acl.AclPermissionType.ALLOW));
        }

        static void run(String bootstrap, String config, List<Line> lines, boolean verify) throws Exception {
            Properties props = new Properties();
            if (config != null) {
                try (var in = new FileInputStream(config)) { props.load(in); }
            }
            props.put("bootstrap.servers", bootstrap);
            List<org.apache.kafka.common.acl.AclBinding> want = new ArrayList<>();
            for (Line l : lines) want.add(binding(l));
            Set<String> principals = new HashSet<>();
            for (Line l : lines) principals.add(l.principal());
            try (var admin = org.apache.kafka.clients.admin.Admin.create(props)) {
                if (!verify) {
                    admin.createAcls(want).all().get();
                    System.out.println("kafka-acls: " + want.size() + " ACLs applied for " + principals.size() + " principals");
                    return;
                }
                var have = new HashSet<org.apache.kafka.common.acl.AclBinding>();
                for (var b : admin.describeAcls(org.apache.kafka.common.acl.AclBindingFilter.ANY).values().get()) {
                    if (principals.contains(b.entry().principal())) have.add(b);
                }
                Set<String> missing = new TreeSet<>(), extra = new TreeSet<>();
                for (var b : want) if (!have.contains(b)) missing.add(b.toString());
                for (var b : have) if (!new HashSet<>(want).contains(b)) extra.add(b.toString());
                missing.forEach(b -> System.out.println("missing: " + b));
                extra.forEach(b -> System.out.println("not in the file: " + b));
                if (!missing.isEmpty() || !extra.isEmpty()) System.exit(1);
                System.out.println("kafka-acls: the cluster holds exactly the " + want.size() + " ACLs of the file");
            }
        }
    }
}
