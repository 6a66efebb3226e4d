// Package conformance runs the upstream Gateway API conformance suite against waygate.
// The suite's own flags (utils/flags) still work; this file fills in what waygate keeps in
// its repository: the supported features (the operator's list), the skip list (skip.json)
// and the implementation's identity (version from package.json).
package conformance

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// Default paths are relative to test/conformance: run.ts starts the binary there, and so
// does `go test` in this directory.
var (
	featuresFile = flag.String("waygate-features", "../../operator/src/supported-features.json", "JSON file with the supported feature names (the list the operator publishes)")
	skipFile     = flag.String("waygate-skip", "skip.json", "JSON file with the tests to skip and why")
	packageFile  = flag.String("waygate-package", "../../package.json", "package.json whose version goes into the report")
	keepGoing    = flag.Bool("waygate-keep-going", true, "run the tests even when the suite's setup times out waiting for the base Gateways and Pods (the setup failure is still reported and fails the run)")
)

const defaultGatewayClass = "waygate"

// Identity in the report. The URL is a placeholder until the repository is public.
var implementation = confv1.Implementation{
	Organization: "waygate",
	Project:      "waygate",
	URL:          "https://github.com/waygate/waygate",
	Contact:      []string{"@waygate/maintainers"},
}

// SkipEntry is one test of skip.json: skipped on purpose, with the reason shown in the README.
type SkipEntry struct {
	Test   string `json:"test"`
	Reason string `json:"reason"`
}

func readJSON(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// supportedFeatures reads the operator's list and rejects names the suite does not know:
// a typo would otherwise silently turn tests into NOT_SUPPORTED.
func supportedFeatures(path string) ([]features.FeatureName, error) {
	var file struct {
		Features []string `json:"features"`
	}
	if err := readJSON(path, &file); err != nil {
		return nil, err
	}
	known := features.SetsToNamesSet(features.AllFeatures)
	var out []features.FeatureName
	for _, f := range file.Features {
		if !known.Has(features.FeatureName(f)) {
			return nil, fmt.Errorf("%s: %q is not a feature of the conformance suite", path, f)
		}
		out = append(out, features.FeatureName(f))
	}
	return out, nil
}

// SkipList reads skip.json; every entry needs a reason.
func SkipList(path string) ([]SkipEntry, error) {
	var file struct {
		Skip []SkipEntry `json:"skip"`
	}
	if err := readJSON(path, &file); err != nil {
		return nil, err
	}
	for _, e := range file.Skip {
		if e.Test == "" || e.Reason == "" {
			return nil, fmt.Errorf("%s: every entry needs a test and a reason: %+v", path, e)
		}
	}
	return file.Skip, nil
}

func packageVersion(path string) (string, error) {
	var pkg struct {
		Version string `json:"version"`
	}
	if err := readJSON(path, &pkg); err != nil {
		return "", err
	}
	if pkg.Version == "" {
		return "", fmt.Errorf("%s has no version", path)
	}
	return pkg.Version, nil
}

func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// Configure completes the options that DefaultOptions built from the suite's flags. Values
// given by flag win, except the skip list, which is the union of skip.json and -skip-tests.
func Configure(opts *suite.ConformanceOptions) error {
	if !flagGiven("gateway-class") {
		opts.GatewayClassName = defaultGatewayClass
	}
	// Always explicit: an empty list would make the suite infer features from the
	// GatewayClass status instead of testing what we claim.
	if len(opts.SupportedFeatures) == 0 && !opts.EnableAllSupportedFeatures {
		fs, err := supportedFeatures(*featuresFile)
		if err != nil {
			return err
		}
		opts.SupportedFeatures = fs
	}
	skips, err := SkipList(*skipFile)
	if err != nil {
		return err
	}
	for _, s := range skips {
		if !slices.Contains(opts.SkipTests, s.Test) {
			opts.SkipTests = append(opts.SkipTests, s.Test)
		}
	}
	if len(opts.ConformanceProfiles) == 0 {
		opts.ConformanceProfiles = []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName}
	}
	impl := &opts.Implementation
	if impl.Organization == "" {
		impl.Organization = implementation.Organization
	}
	if impl.Project == "" {
		impl.Project = implementation.Project
	}
	if impl.URL == "" {
		impl.URL = implementation.URL
	}
	if len(impl.Contact) == 0 {
		impl.Contact = implementation.Contact
	}
	if impl.Version == "" {
		v, err := packageVersion(*packageFile)
		if err != nil {
			return err
		}
		impl.Version = v
	}
	return nil
}
