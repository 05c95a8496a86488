"""Built-in feature plugins, registered through the ``medlytt`` entry-point group like any other."""
