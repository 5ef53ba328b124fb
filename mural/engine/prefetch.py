"""A software prefetch for the kernels: ask for a pixel's cache line before it is written.

The trail painter walks particles in their order and adds into a field of several megabytes
at wherever each one is; the lines it needs are rarely in cache, and the core cannot look far
enough ahead on its own. Asking a few paths ahead overlaps those misses. A prefetch is only a
hint: it never faults, never changes a value, so the frames stay bit-identical.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_WRITE = 1  # rw: 0 would ask for reading
_KEEP = 3  # locality: keep in all cache levels
_DATA = 1  # the data cache, not the instruction cache


@intrinsic
def prefetch_pixel(typingctx, image, y, x, c):  # noqa: ARG001 - numba passes the typing context
    """Prefetch (for writing) the cache line holding image[y, x, c] of an (H, W, C) array.

    The indices are not checked and need not be valid: the caller clamps them only so the
    hint lands on a line it will use.
    """
    if not (isinstance(image, types.Array) and image.ndim == 3
            and all(isinstance(i, types.Integer) for i in (y, x, c))):
        return None
    sig = types.void(image, y, x, c)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2, 3)]
        pointer = cgutils.get_item_pointer2(
            context, builder, data=array.data,
            shape=cgutils.unpack_tuple(builder, array.shape, 3),
            strides=cgutils.unpack_tuple(builder, array.strides, 3),
            layout=array_type.layout, inds=index,
            wraparound=False)
        i32, i8p = ir.IntType(32), ir.IntType(8).as_pointer()
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
        builder.call(function, [builder.bitcast(pointer, i8p), ir.Constant(i32, _WRITE),
                                ir.Constant(i32, _KEEP), ir.Constant(i32, _DATA)])
        return context.get_dummy_value()

    return sig, codegen
