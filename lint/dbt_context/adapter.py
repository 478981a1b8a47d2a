"""`adapter.dispatch('divide')(a, b)` for sqlfluff's jinja templater (.sqlfluff): a dispatched project macro
renders as a call of a function with its name, which is enough to lint the model around it."""


def dispatch(macro_name, macro_namespace=None):
    return lambda *args: f"{macro_name}({', '.join(str(a) for a in args)})"
