# The key only the released enclaves can use: the same statements
# `glassbox kms-policy --release ID [--release ID2] --role-arn ARN` prints,
# with the PCRs of var.enclave_releases (write them with
# `glassbox kms-policy --release ID [--release ID2] --tfvars >
# release.auto.tfvars.json`). One statement per release: IAM ANDs the PCR
# keys of a statement and ORs statements, so during an upgrade's rollover
# window either release's whole PCR set is admitted, never a mix of the
# two. With no release (the first apply, before the image that names this
# key is built) nobody can decrypt.
locals {
  kms_admin = coalesce(var.kms_admin_arn, "arn:${local.partition}:iam::${local.account_id}:root")
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid    = "KeyAdministrationWithoutDecrypt"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [local.kms_admin]
    }
    # Named one by one, never a pattern: "kms:Create*" would include
    # kms:CreateGrant, and a grant can carry Decrypt to anyone without the
    # PCR condition. None of these decrypts, re-encrypts, generates data
    # keys or creates grants; kms:PutKeyPolicy remains (docs/deploy.md says
    # how to guard it). The same list as `glassbox kms-policy`
    # (cli/cmd_kms.c), in the same order.
    actions = [
      "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListKeyPolicies",
      "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
      "kms:EnableKeyRotation", "kms:DisableKeyRotation",
      "kms:RotateKeyOnDemand", "kms:ListKeyRotations", "kms:EnableKey",
      "kms:DisableKey", "kms:UpdateKeyDescription", "kms:ListGrants",
      "kms:RevokeGrant", "kms:ListResourceTags", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion",
      "kms:CancelKeyDeletion",
    ]
    resources = ["*"]
  }

  # Decrypt and GenerateDataKey (the sealed signer key needs both), only
  # with a Recipient attestation of the release's PCRs: without a
  # Recipient the PCR keys are absent and the condition fails.
  dynamic "statement" {
    for_each = var.enclave_releases
    content {
      sid    = "EnclaveRelease${statement.key}"
      effect = "Allow"
      principals {
        type        = "AWS"
        identifiers = [aws_iam_role.instance.arn]
      }
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = ["*"]
      dynamic "condition" {
        for_each = statement.value
        content {
          test     = "StringEqualsIgnoreCase"
          variable = "kms:RecipientAttestation:PCR${condition.key}"
          values   = [condition.value]
        }
      }
    }
  }
}

resource "aws_kms_key" "enclave" {
  description             = "${local.name}: decrypt only in the released enclave"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "enclave" {
  name          = "alias/${local.name}-enclave"
  target_key_id = aws_kms_key.enclave.key_id
}
