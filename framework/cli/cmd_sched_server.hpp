#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gosok {
class CommandRegistry;
}

namespace gosok::cli {

/// The submit server: a per-user `gosok _submit-server` process that keeps libslurm loaded
/// and slurm.conf read, so that `gosok submit` to a Slurm site costs about what sbatch costs
/// (see docs/site-admin/slurm.md). `gosok submit` hands its arguments, environment,
/// directory, umask, nice value and resource limits to the server when one is listening
/// on this user's socket, and runs in-process otherwise (then starts one for next time).
/// The server acts for one request at a time, as its client would have, and exits after a
/// minute without requests. GOSOK_SUBMIT_SERVER=0 turns all of it off.

/// Sends `gosok submit ARGS` to the server; nullopt when no server listens or it declines
/// the request (then the caller submits in-process). Otherwise the exit code, with the
/// server's output already printed.
std::optional<int> submit_through_server(const std::vector<std::string>& args);

/// After an in-process submission to a Slurm site: starts a server for the next ones.
void start_submit_server();

/// Thrown by `gosok submit` inside the server for requests the server leaves to its client
/// (sites that are not Slurm: the local backend's runs are the submitter's children; sites
/// that submit with sbatch; test hooks that must end the submitting process).
struct DeclinedByServer {};
bool in_submit_server();

/// `gosok _submit-server --socket PATH`: serves until a minute (GOSOK_SUBMIT_SERVER_IDLE
/// seconds) passes without a request.
int run_server(const CommandRegistry& commands, const std::vector<std::string>& args);

}  // namespace gosok::cli
