# The key only the released enclave can decrypt with: the same statements
# `glassbox kms-policy --release ID --role-arn ARN` prints, with the PCRs of
# var.enclave_pcrs (write them with
# `glassbox kms-policy --release ID --tfvars > release.auto.tfvars.json`).
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
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*",
      "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
      "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
      "kms:RotateKeyOnDemand",
    ]
    resources = ["*"]
  }

  statement {
    sid    = "DecryptOnlyInTheReleasedEnclave"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.instance.arn]
    }
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    dynamic "condition" {
      for_each = var.enclave_pcrs
      content {
        test     = "StringEqualsIgnoreCase"
        variable = "kms:RecipientAttestation:PCR${condition.key}"
        values   = [condition.value]
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
