# callrec build and test entry points. `make test` is what CI runs (via .ci/run).
GO ?= go
# Debian packages the tests need, as command=package pairs; installed only when the command is missing.
TEST_TOOLS := sipp=sip-tester kamailio=kamailio chromium=chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all test deps vet bench fmt prompts faults

all: test

## test: install what the tests need, then vet and run every test with the race detector.
test: deps vet
	$(GO) test -race -count=1 ./...

## vet: go vet, and fail when go.mod/go.sum are not tidy (go mod tidy -diff prints what tidy would change).
vet:
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@out=$$(gofmt -l .); [ -z "$$out" ] || { echo "gofmt -l lists:"; echo "$$out"; exit 1; }
	@! grep -rnE --include='*.go' '"err", ' . || { echo 'slog: log errors under the key "error" (issue 15)'; exit 1; }

## deps: install missing Debian packages (apt-get update only runs when something is missing).
deps:
	@missing=""; for pair in $(TEST_TOOLS); do \
		cmd=$${pair%%=*}; pkg=$${pair#*=}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download

## bench: run every benchmark once, with memory figures.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## prompts: regenerate the embedded guidance prompts with Open JTalk (needs Debian contrib; never run by CI).
prompts:
	bash guidance/prompts/generate.sh

## faults: run only the fault tests (issue 16: destination failures, outage recovery, disk full,
## stranded recordings, SIP TCP limits, line-lookup outage, random RTP start, mid-call write failure,
## SIGKILL of the b2bua under SIPp load with restarts and orphaned RTP, RFC 4475 torture messages);
## make test runs them too.
FAULT_TESTS := TestRejectedCredentialsNeverDeadLetter|TestRecordingRejectionDeadLetters|TestRecoveryAfterOutageWithinMinOpen|TestHTTPStatusClassification|TestTransportDestinationFailures|TestSFTPDestinationFailures|TestDiskFullOnTmpfs|TestRecordingReserveRefusesBeforeDiskFull|TestStrandedRecordingRetriedWhileRunning|TestTCPConnectionLimits|TestLineLookupOutage|TestPortsStartAtRandomOffset|TestTruncatedAtLastGoodFrame|TestMidCallWriteFailureTruncates|TestMidCallDiskFullOnTmpfs|TestTruncatedRecordingsMetric|TestFaultSIGKILLUnderLoad|TestFaultSIGKILLDuringGuidance|TestRFC4475TortureMessages|TestHangUpDuringAnnouncementDelivered|TestEndedDuringAnnouncementMetric
faults:
	$(GO) test -race -count=1 -run '^($(FAULT_TESTS))$$' ./delivery/ ./sipadapter/ ./sipadapter/relay/ ./recorder/ ./examples/b2bua/
