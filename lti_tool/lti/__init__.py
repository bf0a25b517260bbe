"""The LTI 1.3 edge: the only package that knows LTI claims and pylti1p3."""
