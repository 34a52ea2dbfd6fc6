this is not { valid HCL and must be ignored because the name starts with a dot
