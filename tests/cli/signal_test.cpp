// Ctrl-C and SIGTERM during `bpninja train` (issue 14), on the real executable in a child process:
//   - the step finishes, a checkpoint is written, one line gives the step and the exact --resume
//     command, the exit status is 128 + the signal (130, 143);
//   - the run resumed from that checkpoint is bit-identical to one that was never interrupted;
//   - a second signal exits at once from the handler and removes the half-written file (a forked child
//     raises both signals), and two quick signals against the real executable leave a loadable checkpoint.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "models/gpt/trainer.h"
#include "models/mlp/checkpoint.h"
#include "models/wavenet/trainer.h"
#include "support/cli_runner.h"
#include "support/names.h"
#include "support/scratch.h"
#include "util/interrupt.h"

namespace bpn {
namespace {

namespace fs = std::filesystem;

fs::path signal_scratch(const std::string& name) { return bpn::testing::scratch_dir("signal_" + name); }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  return bpn::testing::spawn_process(args, out, err);
}

// Waits until the run has checkpointed a step after the first (so its handler is installed and its loop
// runs): `step_of` reads the checkpoint's step, or -1 while there is none.
template <typename StepOf>
void wait_for_progress(const fs::path& dir, pid_t pid, StepOf&& step_of) {
  for (int i = 0; i < 1200; ++i) {
    std::int64_t step = -1;
    try {
      if (fs::exists(dir / "checkpoint.safetensors")) step = step_of(dir.string());
    } catch (const std::exception&) {
    }
    if (step > 0) break;
    ASSERT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the run ended before the signal";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the run ended before the signal";
}

std::int64_t mlp_step(const std::string& dir) { return train::load_checkpoint(dir).state.step; }

// Starts `bpninja train ARGS --out DIR/run --checkpoint-every 1` (stdout and stderr in DIR/out and DIR/err)
// and waits until it has checkpointed a step after the first. Returns its pid, or 0 (killed) when it
// did not get there.
template <typename StepOf>
pid_t start_run(std::vector<std::string> args, const fs::path& dir, StepOf&& step_of) {
  args.insert(args.end(), {"--out", (dir / "run").string(), "--checkpoint-every", "1"});
  const pid_t pid = spawn(args, dir / "out", dir / "err");
  if (pid <= 0) return 0;
  wait_for_progress(dir / "run", pid, step_of);
  if (::testing::Test::HasFatalFailure()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 0;
  }
  return pid;
}

int exit_status(pid_t pid) { return bpn::testing::wait_process(pid); }

std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> tmp;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos) tmp.push_back(e.path().filename());
  }
  return tmp;
}

class Interrupt : public ::testing::TestWithParam<int> {};

TEST_P(Interrupt, CheckpointsSaysHowToResumeAndTheResumedRunIsBitIdentical) {
  BPN_REQUIRE_NAMES(d);
  const int sig = GetParam();
  const fs::path dir = signal_scratch(std::to_string(sig));
  const std::string data = testing::names_path(), run = (dir / "run").string();
  const pid_t pid = start_run({"train", "--data", data, "--steps", "100000000"}, dir, mlp_step);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, sig), 0);
  EXPECT_EQ(exit_status(pid), 128 + sig) << read(dir / "err");
  const train::Checkpoint c = train::load_checkpoint(run);
  ASSERT_GT(c.state.step, 0);
  const std::string line = "interrupted by " + std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + " after step " +
                           std::to_string(c.state.step) + " of 100000000; checkpoint written to " + run +
                           "; continue with: bpninja train --data " + data + " --resume " + run + " --out " + run +
                           " --steps 100000000\n";
  const std::string out = read(dir / "out");
  EXPECT_EQ(out.substr(out.size() - std::min(out.size(), line.size())), line) << out;
  EXPECT_TRUE(leftovers(dir / "run").empty());
  // Resumed to 40 steps past the interruption, against a run that went there in one go.
  const std::string to = std::to_string(c.state.step + 40);
  ASSERT_EQ(testing::run_cli({"train", "--data", data, "--resume", run, "--out", run, "--steps", to}).status, 0);
  ASSERT_EQ(testing::run_cli({"train", "--data", data, "--out", (dir / "whole").string(), "--steps", to}).status, 0);
  EXPECT_EQ(train::serialize_checkpoint(train::load_checkpoint(run)),
            train::serialize_checkpoint(train::load_checkpoint((dir / "whole").string())))
      << "the run resumed after " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " differs from the uninterrupted one";
}

INSTANTIATE_TEST_SUITE_P(TrainSignals, Interrupt, ::testing::Values(SIGINT, SIGTERM));

// The second signal's path, deterministically: a child process holds the handler while an atomic write
// is "in progress"; the first signal only sets the flag, the second exits 130 at once from the handler
// and removes the temporary file (util/interrupt.cpp).
TEST(TrainSignals, ASecondSignalExitsAtOnceAndRemovesTheHalfWrittenFile) {
  const fs::path dir = signal_scratch("second");
  const fs::path tmp = dir / "checkpoint.safetensors.tmp.1", err = dir / "err";
  std::ofstream(tmp) << "half a checkpoint";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the child: only async-signal-safe work after the fork
    const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    util::StopOnSignal stop;
    util::set_file_in_progress(tmp.c_str());
    ::raise(SIGINT);
    if (!stop.requested()) ::_exit(3);  // the first signal must only set the flag
    ::raise(SIGINT);
    ::_exit(4);  // not reached: the second signal exits from the handler
  }
  EXPECT_EQ(exit_status(pid), 130);
  EXPECT_FALSE(fs::exists(tmp)) << "the half-written file was left behind";
  EXPECT_NE(read(err).find("second signal: exiting now"), std::string::npos) << read(err);
}

// Two signals in quick succession against the real executable (often merged into one by the kernel):
// whichever path runs, the status is 130, nothing half-written is left and the checkpoint loads.
TEST(TrainSignals, TwoQuickSignalsLeaveAGoodCheckpoint) {
  BPN_REQUIRE_NAMES(d);
  const fs::path dir = signal_scratch("twice");
  const std::string run = (dir / "run").string();
  // --checkpoint-every 1 (start_run): a checkpoint write is almost always in progress
  const pid_t pid = start_run({"train", "--data", testing::names_path(), "--steps", "100000000"}, dir, mlp_step);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  EXPECT_EQ(exit_status(pid), 130) << read(dir / "err");
  EXPECT_TRUE(leftovers(dir / "run").empty()) << "a half-written file was left behind";
  EXPECT_NO_THROW(train::load_checkpoint(run)) << "the last good checkpoint must still load";
}

// The GPT and the WaveNet stop the same way.
TEST(TrainSignals, TheGPTAndTheWaveNetStopWithACheckpointToo) {
  BPN_REQUIRE_NAMES(d);
  for (const std::string arch : {"gpt", "wavenet"}) {
    const fs::path dir = signal_scratch(arch);
    const std::string run = (dir / "run").string();
    std::vector<std::string> args = {"train", "--arch", arch, "--data", testing::names_path(), "--steps", "100000000"};
    if (arch == "gpt") args.insert(args.end(), {"--n-layer", "1", "--n-embd", "16"});
    const pid_t pid = start_run(args, dir, [&](const std::string& d) {
      return arch == "gpt" ? train::load_gpt_checkpoint(d).state.step : train::load_wavenet_checkpoint(d).state.step;
    });
    ASSERT_GT(pid, 0) << arch;
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    EXPECT_EQ(exit_status(pid), 143) << arch << ": " << read(dir / "err");
    EXPECT_NE(read(dir / "out").find("continue with: bpninja train"), std::string::npos) << read(dir / "out");
    const std::int64_t step =
        arch == "gpt" ? train::load_gpt_checkpoint(run).state.step : train::load_wavenet_checkpoint(run).state.step;
    EXPECT_GT(step, 0) << arch;
  }
}

}  // namespace
}  // namespace bpn
