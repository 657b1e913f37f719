// torch's c10d from Rust: a TCPStore rendezvous and a Gloo process group (libtorch_cpu exports
// both; Gloo's own headers come from Debian's libgloo-dev), and sum-allreduce of f64 buffers.
// Every function returns 0 on success, or 1 with the message in logreg_dist_last_error().

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>

namespace {
thread_local std::string last_error;

struct Group {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
    std::chrono::milliseconds timeout;
};

template <typename F>
int guarded(F&& f) {
    try {
        f();
        return 0;
    } catch (const std::exception& e) {
        // c10 errors carry a C++ backtrace after the first line: the message is the first line.
        std::string what = e.what();
        last_error = what.substr(0, what.find('\n'));
        return 1;
    } catch (...) {
        last_error = "unknown C++ exception";
        return 1;
    }
}
}  // namespace

extern "C" {

const char* logreg_dist_last_error() { return last_error.c_str(); }

// Joins the group of `world` processes whose store is at host:port: served by rank 0, or, with
// `agent_store` (torchrun's TORCHELASTIC_USE_AGENT_STORE), by the launcher's agent, every rank a
// client. Keys go under `prefix` (one per launch attempt). Waits for all of them at most
// `timeout_ms` (also every collective's limit).
int logreg_dist_init(const char* host, int port, int rank, int world, int agent_store, const char* prefix,
                     long long timeout_ms, void** out) {
    return guarded([&] {
        const auto timeout = std::chrono::milliseconds(timeout_ms);
        c10d::TCPStoreOptions opts;
        opts.port = static_cast<std::uint16_t>(port);
        opts.isServer = rank == 0 && !agent_store;
        // Each process counts itself in (clients too, as torch.distributed's); the server waits.
        opts.numWorkers = static_cast<std::size_t>(world);
        opts.waitWorkers = true;
        opts.timeout = timeout;
        auto tcp = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
        c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), tcp);
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        // As torch.distributed: GLOO_SOCKET_IFNAME names the interface, else this machine's
        // hostname's address (the loopback where it does not resolve).
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                                     : c10d::ProcessGroupGloo::createDefaultDevice());
        auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
        *out = new Group{store, group, timeout};
    });
}

// values[0..len) summed over every process, in place.
int logreg_dist_allreduce_sum_f64(void* handle, double* values, long long len) {
    return guarded([&] {
        auto* g = static_cast<Group*>(handle);
        auto t = at::from_blob(values, {len}, at::TensorOptions().dtype(at::kDouble));
        std::vector<at::Tensor> tensors{t};
        auto work = g->group->allreduce(tensors);
        work->wait(g->timeout);
    });
}

void logreg_dist_free(void* handle) { delete static_cast<Group*>(handle); }
}
