// The release version, one place for the CLI, the bindings and SARIF output.
#pragma once
#define RULEC_VERSION "0.1.0"
