// Upstream's DaemonSet and ControllerRevision e2e tests
// (k8s.io/kubernetes/test/e2e/apps: daemon_set.go, controller_revision.go),
// compiled into one binary with `go test -c` by hack/tools/build.sh.
//
// This file mirrors k8s.io/kubernetes test/e2e/e2e_test.go and e2e.go at the
// pinned version: the same flag registration (framework.RegisterCommonFlags,
// framework.RegisterClusterFlags, framework.AfterReadingAllFlags), the same
// framework extensions, and ginkgo.RunSpecs with the framework's ginkgo
// configuration. Only test/e2e/apps is imported, so the binary holds the
// sig-apps specs and nothing else; the runner selects the DaemonSet and
// ControllerRevision ones with --ginkgo.focus. The per-suite setup keeps
// upstream's steps that apply to a cluster without cloud provider (wait for
// schedulable nodes, count them, wait for kube-system pods, log versions) and
// drops the GCE-only ones.
package conformance

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/logs"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"
	e2edebug "k8s.io/kubernetes/test/e2e/framework/debug"
	e2enode "k8s.io/kubernetes/test/e2e/framework/node"
	e2epod "k8s.io/kubernetes/test/e2e/framework/pod"

	// ensure auth plugins are loaded
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	// Ensure that logging flags are part of the command line.
	_ "k8s.io/component-base/logs/testinit"

	// define and freeze constants
	_ "k8s.io/kubernetes/test/e2e/feature"

	// test sources: [sig-apps] Daemon set, [sig-apps] ControllerRevision (and the rest of sig-apps)
	_ "k8s.io/kubernetes/test/e2e/apps"

	// reconfigure framework, as upstream's e2e_test.go does
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/framework/metrics/init"
	_ "k8s.io/kubernetes/test/e2e/framework/node/init"
	_ "k8s.io/kubernetes/test/utils/ktesting/format"
)

// handleFlags sets up all flags and parses the command line (upstream's e2e_test.go).
func handleFlags() {
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
}

func TestMain(m *testing.M) {
	var versionFlag bool
	flag.CommandLine.BoolVar(&versionFlag, "version", false, "Displays version information.")

	handleFlags()

	if versionFlag {
		fmt.Printf("%s\n", version.Get())
		os.Exit(0)
	}
	if flag.CommandLine.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unknown additional command line arguments: %s", flag.CommandLine.Args())
		os.Exit(1)
	}

	framework.AfterReadingAllFlags(&framework.TestContext)
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	// As upstream's RunE2ETests: contextual logging on, framework.Fail as
	// gomega's fail handler, the framework's ginkgo configuration.
	logs.InitLogs()
	defer logs.FlushLogs()
	klog.EnableContextualLogging(true)

	gomega.RegisterFailHandler(framework.Fail)
	suiteConfig, reporterConfig := framework.CreateGinkgoConfig()
	klog.Infof("Starting e2e run %q on Ginkgo node %d", framework.RunID, suiteConfig.ParallelProcess)
	ginkgo.RunSpecs(t, "Kubernetes e2e suite", suiteConfig, reporterConfig)
}

var _ = ginkgo.SynchronizedBeforeSuite(func(ctx context.Context) []byte {
	setupSuite(ctx)
	return nil
}, func(ctx context.Context, data []byte) {
	setupSuitePerGinkgoNode(ctx)
})

// setupSuite is upstream's e2e.go setupSuite without the GCE image lookup,
// the orphaned-namespace cleanup (--clean-start) and image pre-pulling.
func setupSuite(ctx context.Context) {
	c, err := framework.LoadClientset()
	framework.ExpectNoError(err, "Error loading client")

	timeouts := framework.NewTimeoutContext()
	framework.ExpectNoError(e2enode.WaitForAllNodesSchedulable(ctx, c, timeouts.NodeSchedulable))

	// If NumNodes is not specified then auto-detect how many are schedulable and not tainted.
	if framework.TestContext.CloudConfig.NumNodes == framework.DefaultNumNodes {
		nodes, err := e2enode.GetReadySchedulableNodes(ctx, c)
		framework.ExpectNoError(err)
		framework.TestContext.CloudConfig.NumNodes = len(nodes.Items)
	}

	if err := e2epod.WaitForAlmostAllPodsReady(ctx, c, metav1.NamespaceSystem, framework.TestContext.MinStartupPods, framework.TestContext.AllowedNotReadyNodes, timeouts.SystemPodsStartup); err != nil {
		e2edebug.DumpAllNamespaceInfo(ctx, c, metav1.NamespaceSystem)
		framework.Failf("Error waiting for all pods to be running and ready: %v", err)
	}

	framework.Logf("e2e test version: %s", version.Get().GitVersion)
	serverVersion, serverErr := c.DiscoveryClient.ServerVersion()
	if serverErr != nil {
		framework.Logf("Unexpected server error retrieving version: %v", serverErr)
	}
	if serverVersion != nil {
		framework.Logf("kube-apiserver version: %s", serverVersion.GitVersion)
	}
}

// setupSuitePerGinkgoNode records the cluster's IP family, as upstream's does.
func setupSuitePerGinkgoNode(ctx context.Context) {
	c, err := framework.LoadClientset()
	framework.ExpectNoError(err, "Error loading client")
	svc, err := c.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	framework.ExpectNoError(err, "Failed to get kubernetes service ClusterIP")
	framework.TestContext.IPFamily = "ipv4"
	if len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == v1.IPv6Protocol {
		framework.TestContext.IPFamily = "ipv6"
	}
	framework.Logf("Cluster IP family: %s", framework.TestContext.IPFamily)
}
