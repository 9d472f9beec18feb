"""Validates FHIR resources with fhir.resources (the R4B models: R4 4.3,
the maintained line of R4): every file named on the command line holds one
resource as JSON; the exit status is 0 only if every one validates. Prints
one line per resource, and the errors of those that do not."""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


def main(paths):
    failed = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        kind = data.get("resourceType")
        try:
            get_fhir_model_class(kind).model_validate(data)
            print(f"valid {kind} {path}")
        except (ValidationError, KeyError, ValueError) as error:
            failed += 1
            print(f"INVALID {kind} {path}:\n{error}")
    return 1 if failed or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
