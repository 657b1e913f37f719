// The ATen calls that PyTorch's optimizers and torch.norm make but tch 0.24 does not expose
// (its generator drops defaulted Scalar arguments such as `alpha` and `value`). Every function
// takes tch's tensor handles (at::Tensor*), returns 0 on success, and on failure returns 1 with
// the message available from logreg_last_error().

#include <ATen/core/Tensor.h>
#include <ATen/ops/linalg_vector_norm.h>

#include <exception>
#include <string>

namespace {
thread_local std::string last_error;

template <typename F>
int guarded(F&& f) {
    try {
        f();
        return 0;
    } catch (const std::exception& e) {
        last_error = e.what();
        return 1;
    }
}
}  // namespace

extern "C" {

const char* logreg_last_error() { return last_error.c_str(); }

// self.add_(other, alpha=alpha), as torch.optim.SGD's param.add_(grad, alpha=-lr).
int logreg_add_scaled_(at::Tensor* self, const at::Tensor* other, double alpha) {
    return guarded([&] { self->add_(*other, alpha); });
}

// self.addcmul_(t1, t2, value=value), as torch.optim.Adam's second-moment update.
int logreg_addcmul_(at::Tensor* self, const at::Tensor* t1, const at::Tensor* t2, double value) {
    return guarded([&] { self->addcmul_(*t1, *t2, value); });
}

// self.addcdiv_(t1, t2, value=value), as torch.optim.Adam's parameter update.
int logreg_addcdiv_(at::Tensor* self, const at::Tensor* t1, const at::Tensor* t2, double value) {
    return guarded([&] { self->addcdiv_(*t1, *t2, value); });
}

// torch.linalg.vector_norm(self, ord) over all elements, which torch.norm(p) and
// torch.norm(p, p=1) call; ord is an integer there, as here. *out receives a new tensor.
int logreg_vector_norm(const at::Tensor* self, int64_t ord, at::Tensor** out) {
    return guarded([&] {
        *out = new at::Tensor(at::linalg_vector_norm(*self, ord, std::nullopt, false, std::nullopt));
    });
}

}  // extern "C"
