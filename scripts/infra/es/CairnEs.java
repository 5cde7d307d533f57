// Single-node Elasticsearch 7.10.2 launcher for local dev/tests (Cairn infra scripts).
// Built on org.codelibs:elasticsearch-cluster-runner (ES OSS modules on the classpath, no X-Pack).
// Usage: java -cp <classes>:<deps> CairnEs <basePath> <host> <httpPort> <transportPort>
import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;

public class CairnEs {
    public static void main(final String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: CairnEs <basePath> <host> <httpPort> <transportPort>");
            System.exit(2);
        }
        final String basePath = args[0];
        final String host = args[1];
        final int httpPort = Integer.parseInt(args[2]);
        final int transportPort = Integer.parseInt(args[3]);

        final ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
        runner.setMaxHttpPort(-1); // default caps ports at 9299 and probes for a "free" one; we want exactly httpPort
        runner.onBuild((index, settings) -> {
            settings.put("network.host", host);
            settings.put("http.port", httpPort);
            settings.put("transport.port", transportPort);
            settings.put("discovery.type", "single-node");
            settings.put("node.name", "cairn-es");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                e.printStackTrace();
            }
        }, "cairn-es-shutdown"));
        try {
            runner.build(ElasticsearchClusterRunner.newConfigs()
                    .basePath(basePath)
                    .numOfNode(1)
                    .clusterName("cairn")
                    .baseHttpPort(httpPort - 1));
        } catch (final Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
        System.out.println("CAIRN_ES_STARTED http=" + host + ":" + httpPort);
        while (!runner.isClosed()) {
            Thread.sleep(5000);
        }
    }
}
