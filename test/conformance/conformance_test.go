package conformance

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/gateway-api/conformance"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/yaml"
)

// The namespaces of the suite's base manifests: everything Setup creates lives in them.
var baseNamespaces = []string{suite.InfrastructureNamespace, suite.AppBackendNamespace, suite.WebBackendNamespace}

// TestConformance is conformance.RunConformanceWithOptions with one change: Setup runs as
// a subtest, so that a setup failure (e.g. the base manifests' HTTPS-only Gateway never
// becoming Programmed) still lets every test run and report its own outcome.
func TestConformance(t *testing.T) {
	opts := conformance.DefaultOptions(t)
	require.NoError(t, Configure(&opts), "configuring the suite")
	require.NoError(t, opts.Implementation.Validate(), "implementation details")

	// Setup's cleanups would fire when its subtest ends, before the tests: clean up here.
	cleanupBase := opts.CleanupBaseResources
	opts.CleanupBaseResources = false

	t.Logf("GatewayClass %s, profiles %v, supported features %v, skipped tests %v, run test %q",
		opts.GatewayClassName, opts.ConformanceProfiles, opts.SupportedFeatures, opts.SkipTests, opts.RunTest)
	cSuite, err := suite.NewConformanceTestSuite(opts)
	require.NoError(t, err, "error initializing conformance suite")

	if cleanupBase {
		t.Cleanup(func() { deleteNamespaces(t, opts.Client, baseNamespaces) })
	}
	if opts.ReportOutputPath != "" {
		t.Cleanup(func() {
			report, err := cSuite.Report()
			require.NoError(t, err, "error generating conformance profile report")
			raw, err := yaml.Marshal(report)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(opts.ReportOutputPath, raw, 0o644), "error writing report")
			t.Logf("Conformance report written to %s:\n%s", opts.ReportOutputPath, raw)
		})
	}

	if !t.Run("Setup", func(t *testing.T) { cSuite.Setup(t, tests.ConformanceTests) }) {
		// No accepted GatewayClass (no controller name): every test would fail the same way.
		if cSuite.ControllerName == "" || !*keepGoing {
			t.FailNow()
		}
		t.Log("Setup failed; running the tests anyway (-waygate-keep-going)")
	}
	require.NoError(t, cSuite.Run(t, tests.ConformanceTests))
}

func deleteNamespaces(t *testing.T, c client.Client, names []string) {
	for _, name := range names {
		err := c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("deleting namespace %s: %v", name, err)
		}
	}
}
